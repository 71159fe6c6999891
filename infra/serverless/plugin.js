'use strict';

// Local osls / Serverless Framework v3 plugin for this service (see serverless.yml).
//
// 1. Refuses `deploy` when DATABASE_URL resolved empty, and any command when
//    DATABASE_URL_SECRET is set but secretsFrom does not select it: the checks run in
//    the `initialize` hook, before packaging, so nothing is built or uploaded. There too
//    FRONTEND_ORIGIN (httpApi.cors.allowedOrigins) becomes one origin per entry, a trailing
//    slash dropped, anything that is not an origin refused (infra/serverless/origins.py).
//    With custom.alarms.enabled it adds the stage's alarms (infra/serverless/alarms.js).
// 2. Builds the layers (custom.layers, one per dependency set) and the per-function code
//    zips named by their `package.artifact` with infra/packaging/package_build.py, then adds and
//    uploads the layers (infra/serverless/layers.js). The framework's own packaging cannot do what Lambda needs
//    here without Docker: wheels for another architecture, bytecode for 3.12 that
//    survives zipping, and different requirement sets per function.
// 3. Drops every DependsOn entry that the same resource's Ref or Fn::GetAtt already
//    implies. The framework writes such pairs (an HTTP API route on its integration,
//    the access-log stage on its log group, a SnapStart alias on its function); cfn-lint
//    warns on each (W3005) and moto's CloudFormation refuses the whole template on the
//    first one, so `make rehearse` could not deploy. CloudFormation orders by the
//    reference alone, so the template means the same without them.

const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { alarmResources } = require('./alarms');
const { Layers } = require('./layers');

const DATABASE_URL_MISSING =
  'DATABASE_URL is not set. Export the Neon pooled connection string before deploying ' +
  '(Neon console > Connect > "Pooled connection", host ending in -pooler), e.g.\n' +
  "  export DATABASE_URL='postgresql://<user>:<password>@<endpoint>-pooler.<region>.aws.neon.tech/<database>" +
  "?sslmode=require&channel_binding=require'\n" +
  'or run `python -m infra.deploy.deployer deploy --stage STAGE --ssm-prefix /todo-api/STAGE`. ' +
  'Nothing was packaged or uploaded.';

const SECRET_NOT_SELECTED =
  'DATABASE_URL_SECRET is set, but secretsFrom is not "secretsmanager": the exported ' +
  'settings would be written into the template. Pass --param secretsFrom=secretsmanager ' +
  '(`make deploy` does), or unset DATABASE_URL_SECRET to deploy the exported values.';

// The logical ids a template value refers to with Ref or Fn::GetAtt (any depth).
function referencedIds(value, found) {
  if (Array.isArray(value)) {
    value.forEach((item) => referencedIds(item, found));
  } else if (value && typeof value === 'object') {
    if (typeof value.Ref === 'string') found.add(value.Ref);
    const getAtt = value['Fn::GetAtt'];
    if (Array.isArray(getAtt)) found.add(getAtt[0]);
    else if (typeof getAtt === 'string') found.add(getAtt.split('.')[0]);
    Object.values(value).forEach((item) => referencedIds(item, found));
  }
  return found;
}

class TodoApiPackaging {
  constructor(serverless, options, utils) {
    this.serverless = serverless;
    this.options = options || {};
    this.layers = new Layers(serverless, (utils && utils.log) || { notice: console.log });
    this.hooks = {
      'initialize': () => {
        this.refuseDeployWithoutDatabase();
        this.refuseSecretNotSelected();
        this.checkOrigins();
      },
      'before:package:finalize': () => {
        this.addLayers();
        this.addAlarms();
      },
      'after:aws:deploy:deploy:uploadArtifacts': () => this.layers.upload(),
      'before:package:createDeploymentArtifacts': () => this.build(),
      // `deploy function -f NAME` packages just that function.
      'before:package:function:package': () => this.build(this.options.function),
      'before:aws:package:finalize:saveServiceState': () => this.dropImpliedDependsOn(),
    };
  }

  dropImpliedDependsOn() {
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    for (const resource of Object.values(template.Resources || {})) {
      if (resource.DependsOn === undefined) continue;
      const referenced = referencedIds(resource.Properties || {}, new Set());
      const kept = [].concat(resource.DependsOn).filter((id) => !referenced.has(id));
      if (kept.length) resource.DependsOn = kept;
      else delete resource.DependsOn;
    }
  }

  isDeploy() {
    const commands = (this.serverless.processedInput || {}).commands || [];
    return commands[0] === 'deploy' && commands[1] !== 'list';
  }

  // DATABASE_URL_SECRET names the secret, but only --param secretsFrom=secretsmanager
  // selects it (infra/deploy/deployer.py passes both); otherwise the exported values would be
  // written into the template while the operator believes they are not.
  refuseSecretNotSelected() {
    const secret = process.env.DATABASE_URL_SECRET;
    const value = (this.serverless.service.provider.environment || {}).DATABASE_URL;
    if (!secret || String(value).startsWith('{{resolve:secretsmanager:')) return;
    throw new this.serverless.classes.Error(SECRET_NOT_SELECTED, 'TODO_API_SECRET_NOT_SELECTED');
  }

  // CloudWatch alarms for the HTTP functions when custom.alarms.enabled (infra/serverless/alarms.js).
  addAlarms() {
    const service = this.serverless.service;
    if (!service.custom.alarms.enabled) return;
    const provider = this.serverless.getProvider('aws');
    const http = service
      .getAllFunctions()
      .filter((name) => (service.getFunction(name).events || []).some((event) => event.httpApi));
    const functions = http.map((name) => ({
      name,
      logicalId: provider.naming.getLambdaLogicalId(name),
      timeout: service.getFunction(name).timeout || service.provider.timeout || 6,
    }));
    const environment = service.provider.environment;
    const app = {
      namespace: environment.POWERTOOLS_METRICS_NAMESPACE,
      dimensions: [{ Name: 'service', Value: environment.POWERTOOLS_SERVICE_NAME }],
    };
    const prefix = `${service.service}-${provider.getStage()}`;
    const alarms = alarmResources(service.custom.alarms, prefix, functions, app);
    Object.assign(service.provider.compiledCloudFormationTemplate.Resources, alarms);
  }

  // The same rule the local gateway applies (infra/serverless/origins.py): comma-separated
  // origins split into entries, each scheme://host[:port]; a message naming the variable.
  checkOrigins() {
    const cors = (this.serverless.service.provider.httpApi || {}).cors;
    if (!cors || !Array.isArray(cors.allowedOrigins)) return;
    const python = this.python();
    const args = ['-m', 'infra.serverless.origins', ...cors.allowedOrigins.map(String)];
    const result = spawnSync(python, args, { cwd: this.serverless.serviceDir, encoding: 'utf8' });
    if (result.error || result.status !== 0) {
      const why = result.error ? `could not run ${python}: ${result.error.message}` : result.stderr.trim();
      throw new this.serverless.classes.Error(
        `${why}. Nothing was packaged or uploaded.`,
        'TODO_API_BAD_ORIGIN'
      );
    }
    cors.allowedOrigins = JSON.parse(result.stdout);
  }

  refuseDeployWithoutDatabase() {
    if (!this.isDeploy()) return;
    const environment = this.serverless.service.provider.environment || {};
    const value = environment.DATABASE_URL;
    if (typeof value !== 'string' || value.trim() === '') {
      throw new this.serverless.classes.Error(DATABASE_URL_MISSING, 'TODO_API_DATABASE_URL_MISSING');
    }
  }

  buildSpec(only) {
    const service = this.serverless.service;
    const jobs = new Set(service.custom.build.jobs);
    const docs = new Set(service.custom.build.docs);
    const names = service.getAllFunctions().filter((name) => !only || name === only);
    return {
      arch: service.provider.architecture,
      // Every layer, even for `deploy function`: unchanged ones come from the cache.
      layers: Layers.spec(service),
      functions: names.map((name) => {
        const fn = service.getFunction(name);
        const group = jobs.has(name) ? 'jobs' : docs.has(name) ? 'docs' : 'api';
        return { name, handler: fn.handler, artifact: fn.package.artifact, group };
      }),
    };
  }

  python() {
    if (process.env.PYTHON) return process.env.PYTHON;
    const venv = path.join(this.serverless.serviceDir, '.venv', 'bin', 'python');
    return fs.existsSync(venv) ? venv : 'python3';
  }

  build(only) {
    const python = this.python();
    const result = spawnSync(python, ['-m', 'infra.packaging.package_build', '--spec', '-'], {
      cwd: this.serverless.serviceDir,
      input: JSON.stringify(this.buildSpec(only)),
      stdio: ['pipe', 'inherit', 'inherit'],
    });
    if (result.error) {
      throw new this.serverless.classes.Error(
        `could not run ${python} -m infra.packaging.package_build: ${result.error.message} ` +
          '(set PYTHON to the project virtualenv\'s python)',
        'TODO_API_BUILD_NOT_STARTED'
      );
    }
    if (result.status !== 0) {
      throw new this.serverless.classes.Error(
        `infra.packaging.package_build failed (exit ${result.status}); see its output above`,
        'TODO_API_BUILD_FAILED'
      );
    }
  }

  // The layers' AWS::Lambda::LayerVersion resources (infra/serverless/layers.js).
  addLayers() {
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    Object.assign(template.Resources, this.layers.resources());
  }
}

module.exports = TodoApiPackaging;
