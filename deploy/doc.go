// Package deploy holds the tests of the deployment material beside it: the
// Compose file at the repository root and the Kubernetes kustomization in
// k8s/. The material itself is YAML and shell; the tests load it with the
// tools' own Go libraries (compose-go, kustomize) and check what an
// operator relies on.
package deploy
