package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadCompose loads docker-compose.yml with the Compose v2 loader as
// `docker compose` would, in an environment that sets nothing (no .env),
// so that every value is the file's own default.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"../docker-compose.yml"},
		cli.WithWorkingDirectory(".."), cli.WithEnv([]string{}), cli.WithDiscardEnvFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

// read returns the file at path (relative to the repository root).
func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// settings are the environment variables a service reads: those of
// pkg/config.Common and of its own config.go, found as the quoted names in
// them, and its listen and admin addresses.
func settings(t *testing.T, service string) []string {
	t.Helper()
	name := regexp.MustCompile(`"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|DEBUG)"`)
	var out []string
	for _, file := range []string{"pkg/config/common.go", "services/" + service + "/config.go"} {
		for _, m := range name.FindAllStringSubmatch(read(t, file), -1) {
			out = append(out, m[1])
		}
	}
	up := strings.ToUpper(service)
	out = append(out, up+"_ADDR", up+"_ADMIN_ADDR")
	slices.Sort(out)
	return slices.Compact(out)
}

// The file is safe by default: every setting a service reads reaches its
// container, secrets come only from files, nothing runs in debug mode,
// images are pinned to patch versions (NATS to the one the tests run), the
// infrastructure restarts and authenticates, and Jaeger is a maintained
// version that keeps its traces on a volume.
func TestComposeIsCompleteAndSafe(t *testing.T) {
	p := loadCompose(t)
	services := map[string]types.ServiceConfig{}
	for _, s := range p.Services {
		services[s.Name] = s
	}
	for _, name := range []string{"postgres", "mongodb", "nats", "jaeger", "stream", "auth", "tickets", "audit", "webhooks", "gateway"} {
		if _, ok := services[name]; !ok {
			t.Fatalf("no %s service", name)
		}
	}

	secretSettings := []string{"SECRET_KEY", "DATABASE_URL", "MONGODB_URL", "NATS_URL",
		"INITIAL_ADMIN_PASSWORD", "INITIAL_STAFF_PASSWORD", "INITIAL_USER_PASSWORD"}
	for _, svc := range []string{"auth", "tickets", "audit", "webhooks", "gateway"} {
		env := services[svc].Environment
		for _, setting := range settings(t, svc) {
			_, plain := env[setting]
			_, file := env[setting+"_FILE"]
			switch {
			case !plain && !file:
				t.Errorf("%s: %s does not reach the container", svc, setting)
			case plain && slices.Contains(secretSettings, setting):
				t.Errorf("%s: the secret %s is in the environment; it must come from a file (%s_FILE)", svc, setting, setting)
			}
		}
		if v := env["DEBUG"]; v == nil || *v != "false" {
			t.Errorf("%s: DEBUG defaults to %v, want false", svc, v)
		}
		for setting, v := range env {
			if strings.HasSuffix(setting, "_FILE") && (v == nil || !strings.HasPrefix(*v, "/run/secrets/")) {
				t.Errorf("%s: %s is not a mounted secret", svc, setting)
			}
		}
	}
	for name, s := range p.Secrets {
		if !strings.HasPrefix(s.File, filepath.Join(p.WorkingDir, "secrets")) {
			t.Errorf("secret %s comes from %s, not ./secrets", name, s.File)
		}
	}

	// A patch release: x.y.z, or x.y for PostgreSQL, whose releases are
	// numbered so.
	pinned := regexp.MustCompile(`^(postgres:\d+\.\d+|[a-z/]+:\d+\.\d+\.\d+(-[a-z0-9]+)?)$`)
	for name, s := range services {
		if s.Build == nil && !pinned.MatchString(s.Image) {
			t.Errorf("%s: image %q is not pinned to a patch version", name, s.Image)
		}
		if want := "unless-stopped"; name != "stream" && s.Restart != want {
			t.Errorf("%s: restart %q, want %q", name, s.Restart, want)
		}
	}
	natsVersion := regexp.MustCompile(`DEPS_NATS_VERSION=v(\S+)`).FindStringSubmatch(read(t, "deploy/deps.sh"))
	if natsVersion == nil || !strings.Contains(read(t, "pkg/go.mod"), "github.com/nats-io/nats-server/v2 v"+natsVersion[1]) ||
		services["nats"].Image != "nats:"+natsVersion[1]+"-alpine" {
		t.Errorf("NATS: compose runs %s, the tests %v: they must match", services["nats"].Image, natsVersion)
	}

	if env := services["postgres"].Environment; env["POSTGRES_PASSWORD_FILE"] == nil {
		t.Error("postgres: no password from a secret")
	}
	if env := services["mongodb"].Environment; env["MONGO_INITDB_ROOT_USERNAME"] == nil || env["MONGO_INITDB_ROOT_PASSWORD_FILE"] == nil {
		t.Error("mongodb: no root user with a password from a secret: it would run without authentication")
	}
	if !strings.Contains(strings.Join(services["nats"].Command, " "), "/run/secrets/nats_conf") ||
		!strings.Contains(read(t, "deploy/compose-secrets.sh"), "authorization {") {
		t.Error("nats: not configured from the secret that sets its user and password")
	}
	for _, url := range []string{"database_url", "mongodb_url", "nats_url"} {
		if !regexp.MustCompile(`put ` + url + ` "[a-z]+://[a-z]+:\$\(get [a-z_]+\)@`).MatchString(read(t, "deploy/compose-secrets.sh")) {
			t.Errorf("deploy/compose-secrets.sh writes %s without the password", url)
		}
	}

	jaeger := services["jaeger"]
	if !strings.HasPrefix(jaeger.Image, "jaegertracing/jaeger:2.") {
		t.Errorf("jaeger: image %s, want Jaeger v2 (jaegertracing/jaeger:2.x.y)", jaeger.Image)
	}
	persistent := false
	for _, v := range jaeger.Volumes {
		persistent = persistent || (v.Type == types.VolumeTypeVolume && v.Target == "/badger")
	}
	if !persistent || !strings.Contains(read(t, "deploy/jaeger/compose.yaml"), "ephemeral: false") {
		t.Error("jaeger: traces are not kept on a volume")
	}

	if deps := services["gateway"].DependsOn; deps["stream"].Condition != types.ServiceConditionCompletedSuccessfully {
		t.Error("gateway: does not wait for the stream step")
	}
	if !slices.Equal(services["stream"].Command, types.ShellCommand{"stream"}) {
		t.Errorf("stream: command %v, want the stream step", services["stream"].Command)
	}

	if !regexp.MustCompile(`(?m)^DEBUG=false$`).MatchString(read(t, ".env.example")) {
		t.Error(".env.example: DEBUG must be false (compose forwards it)")
	}
	for _, from := range regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(read(t, "deploy/Dockerfile"), -1) {
		if !regexp.MustCompile(`:\d+\.\d+(\.\d+)?(-[a-z0-9]+)*$`).MatchString(from[1]) {
			t.Errorf("deploy/Dockerfile: base image %s is not pinned", from[1])
		}
	}
}
