"""EMR's own API, served by kemr (docs/emr-api.md): AWS JSON 1.1 requests (`X-Amz-Target:
ElasticMapReduce.<Operation>`) signed with SigV4, translated to and from EMRCluster and EMRStep objects.

The objects stay the one source of truth: nothing here stores state. The flow of a request, in folders:
`auth` (the signature and the access key's Secret) → `translate` (EMR's request shapes to kemr's objects
and back, pure) → `operations` (one function per EMR operation, through the caller's Kubernetes identity)
→ `server` (HTTP, TLS, EMR's error shape).
"""
