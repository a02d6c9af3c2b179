"""`kubectl emr`: the kubectl plugin for EMRClusters and EMRSteps (docs/kubectl-plugin.md)."""
