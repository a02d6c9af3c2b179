// gopher-lua-check: Argo CD's Lua interpreter (gopher-lua) on kemr's health scripts (see docs/gitops.md).
module kemr.io/gopher-lua-check

go 1.24.0

require (
	github.com/yuin/gopher-lua v1.1.1
	sigs.k8s.io/yaml v1.4.0
)
