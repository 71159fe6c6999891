'use strict';

// Optional CloudWatch alarms for a stage (serverless.yml custom.alarms, docs/operations.md: Metrics and alarms),
// added to the compiled template by infra/serverless/plugin.js when custom.alarms.enabled:
//
// - ApiServerErrorRateAlarm: the HTTP API's share of 5xx answers (API Gateway's `5xx`
//   metric averages 0/1 per request, so its Average is the rate).
// - ApiUnavailableRateAlarm: the app's 503s (its ServiceUnavailable count, published by
//   shared/api/problems.py) over the API's requests.
// - ApiThrottlesAlarm[N]: Lambda throttles (reserved concurrency reached) summed over the
//   API functions.
// - ApiDurationAlarm[N]: the slowest invocation of any API function past a share of
//   its timeout (one alarm per distinct timeout).
//
// A metric-math alarm reads at most 10 metrics, so function metrics go in chunks of 10.

const PERIOD_SECONDS = 300;
const MAX_METRICS = 10;

function chunks(items, size) {
  const found = [];
  for (let start = 0; start < items.length; start += size) {
    found.push(items.slice(start, start + size));
  }
  return found;
}

class AlarmBuilder {
  constructor(config, prefix, actions) {
    this.config = config;
    this.prefix = prefix;
    this.actions = actions;
  }

  alarm(name, description, threshold, metrics) {
    return {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${this.prefix}-${name}`,
        AlarmDescription: description,
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: threshold,
        EvaluationPeriods: this.config.periods,
        DatapointsToAlarm: this.config.periods,
        // No traffic is not an outage: an idle stage stays OK.
        TreatMissingData: 'notBreaching',
        ...this.actions,
        ...metrics,
      },
    };
  }

  static stat(id, namespace, metricName, dimensions, stat) {
    return {
      Id: id,
      ReturnData: false,
      MetricStat: {
        Metric: { Namespace: namespace, MetricName: metricName, Dimensions: dimensions },
        Period: PERIOD_SECONDS,
        Stat: stat,
      },
    };
  }

  static expression(expression, label) {
    return { Id: 'result', Expression: expression, Label: label, ReturnData: true };
  }
}

function apiDimensions() {
  return [{ Name: 'ApiId', Value: { Ref: 'HttpApi' } }];
}

function functionMetrics(functions, metricName, stat) {
  return functions.map((fn, index) =>
    AlarmBuilder.stat(`f${index}`, 'AWS/Lambda', metricName, [
      { Name: 'FunctionName', Value: { Ref: fn.logicalId } },
    ], stat)
  );
}

function apiAlarms(builder, config, app) {
  const errors = builder.alarm(
    'api-5xx-rate',
    `More than ${config.serverErrorRate * 100} % of HTTP API requests answered 5xx`,
    config.serverErrorRate,
    {
      Namespace: 'AWS/ApiGateway',
      MetricName: '5xx',
      Dimensions: apiDimensions(),
      Statistic: 'Average',
      Period: PERIOD_SECONDS,
    }
  );
  const unavailable = builder.alarm(
    'api-503-rate',
    `More than ${config.unavailableRate * 100} % of requests answered 503 by the app`,
    config.unavailableRate,
    {
      Metrics: [
        AlarmBuilder.stat('unavailable', app.namespace, 'ServiceUnavailable', app.dimensions, 'Sum'),
        AlarmBuilder.stat('requests', 'AWS/ApiGateway', 'Count', apiDimensions(), 'Sum'),
        AlarmBuilder.expression('FILL(unavailable, 0) / requests', '503 share'),
      ],
    }
  );
  return { ApiServerErrorRateAlarm: errors, ApiUnavailableRateAlarm: unavailable };
}

function throttleAlarms(builder, config, functions) {
  const found = {};
  chunks(functions, MAX_METRICS).forEach((group, index) => {
    const metrics = functionMetrics(group, 'Throttles', 'Sum');
    const ids = metrics.map((metric) => metric.Id).join(', ');
    found[`ApiThrottlesAlarm${index}`] = builder.alarm(
      `api-throttles-${index}`,
      `Lambda throttled more than ${config.throttles} invocation(s) of the API functions: ` +
        group.map((fn) => fn.name).join(', '),
      config.throttles,
      { Metrics: [...metrics, AlarmBuilder.expression(`SUM([${ids}])`, 'throttles')] }
    );
  });
  return found;
}

function durationAlarms(builder, config, functions) {
  const byTimeout = new Map();
  for (const fn of functions) {
    byTimeout.set(fn.timeout, [...(byTimeout.get(fn.timeout) || []), fn]);
  }
  const found = {};
  let index = 0;
  for (const [timeout, sameTimeout] of [...byTimeout.entries()].sort((a, b) => a[0] - b[0])) {
    for (const group of chunks(sameTimeout, MAX_METRICS)) {
      const metrics = functionMetrics(group, 'Duration', 'Maximum');
      const ids = metrics.map((metric) => metric.Id).join(', ');
      const limit = Math.round(config.durationOfTimeout * timeout * 1000);
      found[`ApiDurationAlarm${index}`] = builder.alarm(
        `api-duration-${index}`,
        `An invocation ran past ${limit} ms of its ${timeout} s timeout: ` +
          group.map((fn) => fn.name).join(', '),
        limit,
        { Metrics: [...metrics, AlarmBuilder.expression(`MAX([${ids}])`, 'slowest')] }
      );
      index += 1;
    }
  }
  return found;
}

// `functions`: the HTTP functions as {name, logicalId, timeout}; `app`: the namespace and
// dimensions the functions' Powertools metrics are published under.
function alarmResources(config, prefix, functions, app) {
  const actions = config.topicArn
    ? { AlarmActions: [config.topicArn], OKActions: [config.topicArn] }
    : {};
  const builder = new AlarmBuilder(config, prefix, actions);
  return {
    ...apiAlarms(builder, config, app),
    ...throttleAlarms(builder, config, functions),
    ...durationAlarms(builder, config, functions),
  };
}

module.exports = { alarmResources };
