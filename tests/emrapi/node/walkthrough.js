// The walkthrough's Node.js service code, as an EMR user writes it with aws-sdk v2: region and credentials
// come from the standard AWS environment variables; the endpoint is the only kemr-specific line.
const AWS = require('aws-sdk');

const emr = new AWS.EMR({ endpoint: process.env.EMR_ENDPOINT });

async function runSparkJob(clusterId, scriptUri, stepName = 'walkthrough') {
  const r = await emr.addJobFlowSteps({
    JobFlowId: clusterId,
    Steps: [{
      Name: stepName,
      ActionOnFailure: 'CONTINUE',
      HadoopJarStep: {
        Jar: 'command-runner.jar',
        Args: ['spark-submit', '--deploy-mode', 'cluster', scriptUri],
      },
    }],
  }).promise();
  return r.StepIds;
}

module.exports = { runSparkJob };

// `node walkthrough.js <clusterId> <scriptUri> [stepName]`: prints {"StepIds": [...]}; on failure prints
// {"Error": {"Code", "Message"}, "HTTPStatusCode"} and exits 1.
if (require.main === module) {
  const [clusterId, scriptUri, stepName] = process.argv.slice(2);
  runSparkJob(clusterId, scriptUri, stepName)
    .then((stepIds) => console.log(JSON.stringify({ StepIds: stepIds })))
    .catch((err) => {
      console.log(JSON.stringify({
        Error: { Code: err.code || err.name, Message: err.message },
        HTTPStatusCode: err.statusCode || null,
      }));
      process.exitCode = 1;
    });
}
