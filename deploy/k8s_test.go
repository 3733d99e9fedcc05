package deploy_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// renderK8s renders deploy/k8s with the kustomize Go API, as
// `kubectl apply -k deploy/k8s` would, and returns its resources by
// "Kind/name".
func renderK8s(t *testing.T) map[string]*resource.Resource {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), "k8s")
	if err != nil {
		t.Fatalf("deploy/k8s does not render: %v", err)
	}
	out := map[string]*resource.Resource{}
	for _, r := range m.Resources() {
		out[r.GetKind()+"/"+r.GetName()] = r
	}
	return out
}

// field reads a value at a dotted path of r ("spec.replicas"), "" when absent.
func field(t *testing.T, r *resource.Resource, path string) string {
	t.Helper()
	v, err := r.GetFieldValue(path)
	if err != nil {
		return ""
	}
	return fmt.Sprint(v)
}

// The kustomization holds what running in a cluster takes: each service a
// Deployment with probes, resources and its settings, PodDisruptionBudgets
// and autoscalers for the gateway and tickets, the migrations and the
// stream step as a Job, and a 3-node NATS JetStream cluster; no secret is
// kept in it.
func TestKustomizationHasTheEssentials(t *testing.T) {
	res := renderK8s(t)
	for key, r := range res {
		if r.GetNamespace() != "supportdesk" && r.GetKind() != "Namespace" {
			t.Errorf("%s is in namespace %q", key, r.GetNamespace())
		}
		if r.GetKind() == "Secret" {
			t.Errorf("%s: secrets are the operator's (supportdesk-secrets), never kept in the repository", key)
		}
	}

	config := res["ConfigMap/supportdesk-config"]
	if config == nil {
		t.Fatal("no ConfigMap supportdesk-config")
	}
	data := config.GetDataMap()
	if data["STREAM_REPLICAS"] != "3" || data["DEBUG"] != "false" {
		t.Errorf("config: STREAM_REPLICAS %q and DEBUG %q, want 3 and false", data["STREAM_REPLICAS"], data["DEBUG"])
	}
	for _, secret := range []string{"SECRET_KEY", "DATABASE_URL", "MONGODB_URL", "NATS_URL"} {
		if _, plain := data[secret]; plain || !strings.HasPrefix(data[secret+"_FILE"], "/run/secrets/supportdesk/") {
			t.Errorf("config: %s must come from the mounted secret (%s_FILE)", secret, secret)
		}
	}

	image := regexp.MustCompile(`^supportdesk/[a-z]+:\d+\.\d+\.\d+$`)
	for _, svc := range []string{"auth", "tickets", "audit", "webhooks", "gateway"} {
		d := res["Deployment/"+svc]
		if d == nil {
			t.Errorf("no Deployment %s", svc)
			continue
		}
		c := "spec.template.spec.containers[0]."
		if img := field(t, d, c+"image"); !image.MatchString(img) {
			t.Errorf("%s: image %q is not a released tag", svc, img)
		}
		for _, probe := range []string{"startupProbe", "livenessProbe", "readinessProbe"} {
			if field(t, d, c+probe+".httpGet.path") == "" {
				t.Errorf("%s: no %s", svc, probe)
			}
		}
		if want := map[bool]string{true: "/health", false: "/health/ready"}[svc == "gateway"]; field(t, d, c+"readinessProbe.httpGet.path") != want {
			t.Errorf("%s: readiness on %s, want %s", svc, field(t, d, c+"readinessProbe.httpGet.path"), want)
		}
		for _, r := range []string{"requests.cpu", "requests.memory", "limits.memory"} {
			if field(t, d, c+"resources."+r) == "" {
				t.Errorf("%s: no resources.%s", svc, r)
			}
		}
		if field(t, d, c+"envFrom[0].configMapRef.name") != "supportdesk-config" || field(t, d, "spec.template.spec.volumes[0].secret.secretName") != "supportdesk-secrets" {
			t.Errorf("%s: does not read the config and the secret", svc)
		}
		if n := field(t, d, "spec.replicas"); n == "" || n == "1" {
			t.Errorf("%s: %s replica(s); every service runs at least two", svc, n)
		}
		if field(t, res["Service/"+svc], "spec.ports[0].targetPort") != "http" {
			t.Errorf("%s: no Service to its API port", svc)
		}
	}
	for _, svc := range []string{"gateway", "tickets"} {
		if field(t, res["PodDisruptionBudget/"+svc], "spec.minAvailable") == "" {
			t.Errorf("%s: no PodDisruptionBudget", svc)
		}
		hpa := res["HorizontalPodAutoscaler/"+svc]
		if field(t, hpa, "spec.scaleTargetRef.name") != svc || field(t, hpa, "spec.minReplicas") != "2" {
			t.Errorf("%s: no autoscaler of its Deployment from two replicas", svc)
		}
	}

	job := res["Job/supportdesk-setup"]
	var steps []string
	for i := range 4 {
		steps = append(steps, field(t, job, fmt.Sprintf("spec.template.spec.containers[%d].image", i))+" "+
			field(t, job, fmt.Sprintf("spec.template.spec.containers[%d].args", i)))
	}
	for _, want := range []string{"supportdesk/auth:0.1.0 [migrate up]", "supportdesk/tickets:0.1.0 [migrate up]", "supportdesk/webhooks:0.1.0 [migrate up]", "supportdesk/gateway:0.1.0 [stream]"} {
		if !slices.Contains(steps, want) {
			t.Errorf("the setup Job does not run %q (it runs %q)", want, steps)
		}
	}

	nats := res["StatefulSet/nats"]
	natsConf := res["ConfigMap/nats-config"].GetDataMap()["nats.conf"]
	if field(t, nats, "spec.replicas") != "3" || field(t, nats, "spec.volumeClaimTemplates[0].metadata.name") != "data" ||
		!strings.Contains(natsConf, "jetstream") || strings.Count(natsConf, "nats://nats-") != 3 ||
		!strings.Contains(natsConf, "password: $NATS_PASSWORD") {
		t.Errorf("NATS: %s replicas; want a 3-node JetStream cluster with volumes and a password, config:\n%s", field(t, nats, "spec.replicas"), natsConf)
	}
	if !strings.HasSuffix(field(t, nats, "spec.template.spec.containers[0].image"), ":2.15.2-alpine") {
		t.Errorf("NATS: image %s, want the tests' version", field(t, nats, "spec.template.spec.containers[0].image"))
	}
}
