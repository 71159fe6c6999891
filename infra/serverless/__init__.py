"""serverless.yml, read and extended: its routes and functions, variables and environments,
and the osls plugin (plugin.js, layers.js, alarms.js) that packages and deploys it."""
