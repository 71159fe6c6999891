'use strict';

// The Lambda layers of serverless.yml's custom.layers, one per dependency set, compiled
// into the template and uploaded by infra/serverless/plugin.js rather than by osls's own
// `layers:`, which asks CloudFormation for the previous deployment's layer hash on every
// `package` (DescribeStacks), so an offline `osls package` (make package, the tests)
// could not run.
//
// A layer's S3 key names its build key (the hash of its locked requirements and of what
// else shapes its bytes, infra/packaging/layer_build.py; package_build writes the file name to
// layers.json beside the zips):
// an unchanged set keeps its key, so its AWS::Lambda::LayerVersion resource is identical
// (CloudFormation publishes no new version), and the upload is skipped when the bucket
// already holds the object. Keys live in osls's code-artifacts folder, which its cleanup
// of old deployments leaves alone, so a rollback finds the layer it names.

const fs = require('fs');
const path = require('path');
const { S3Client, HeadObjectCommand, PutObjectCommand } = require('@aws-sdk/client-s3');

const MANIFEST = 'layers.json';

function manifestOf(serviceDir, layer) {
  const folder = path.join(serviceDir, path.dirname(layer.artifact));
  return JSON.parse(fs.readFileSync(path.join(folder, MANIFEST), 'utf8'));
}

class Layers {
  constructor(serverless, log) {
    this.serverless = serverless;
    this.log = log;
    this.service = serverless.service;
    this.provider = serverless.getProvider('aws');
  }

  // [{name, artifact, runtime, arch, description, key}] for every custom.layers entry.
  built() {
    return Object.entries(this.service.custom.layers || {}).map(([name, layer]) => {
      const entry = manifestOf(this.serverless.serviceDir, layer)[name];
      const key = `${this.service.package.artifactsS3KeyDirname}/${entry.file}`;
      return { name, ...layer, description: entry.description, key };
    });
  }

  // The build spec's layers: the set's name and where its zip goes.
  static spec(service) {
    return Object.entries(service.custom.layers || {}).map(([name, layer]) => ({
      name,
      artifact: layer.artifact,
    }));
  }

  resources() {
    const bucket = this.service.package.deploymentBucket || { Ref: 'ServerlessDeploymentBucket' };
    const found = {};
    for (const layer of this.built()) {
      found[this.provider.naming.getLambdaLayerLogicalId(layer.name)] = {
        Type: 'AWS::Lambda::LayerVersion',
        Properties: {
          LayerName: `${this.service.service}-${this.provider.getStage()}-${layer.name}`,
          Description: layer.description,
          CompatibleRuntimes: [this.service.provider.runtime],
          CompatibleArchitectures: [this.service.provider.architecture],
          Content: { S3Bucket: bucket, S3Key: layer.key },
        },
      };
    }
    return found;
  }

  async upload() {
    const bucket = await this.provider.getServerlessDeploymentBucketName();
    const s3 = new S3Client(await this.provider.getAwsSdkV3Config());
    for (const layer of this.built()) {
      if (await this.exists(s3, bucket, layer.key)) {
        this.log.notice(`Layer ${layer.name} unchanged (${layer.description}): not uploaded`);
        continue;
      }
      const body = fs.readFileSync(path.join(this.serverless.serviceDir, layer.artifact));
      this.log.notice(`Layer ${layer.name}: uploading ${(body.length / 2 ** 20).toFixed(2)} MiB`);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: layer.key, Body: body }));
    }
  }

  async exists(s3, bucket, key) {
    try {
      await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return true;
    } catch (error) {
      if (error && (error.name === 'NotFound' || error.$metadata?.httpStatusCode === 404)) {
        return false;
      }
      throw error;
    }
  }
}

module.exports = { Layers };
