package deploy

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/internal/devstack"
)

// The services of docker-compose.yml.
var (
	// infraServices run third-party images.
	infraServices = []string{"zookeeper", "kafka", "kafka-init", "postgresql", "temporal", "temporal-init", "temporal-ui",
		"prometheus", "grafana"}
	// projectServices run the project's image; the value is the command (and subcommand).
	projectServices = map[string][]string{
		"s3server": {"s3server"},
		"ingest":   {"ingest"},
		"bridge":   {"bridge"},
		"worker":   {"worker"},
		"setup":    {"starter", "setup"},
	}
	// published is each service's port on the host (127.0.0.1), the same as make demo's.
	published = map[string]uint32{
		"zookeeper": 2181, "kafka": 9092, "temporal": 7233, "temporal-ui": 8233,
		"s3server": 8000, "ingest": 9101, "bridge": 9102, "worker": 9103,
		"prometheus": 9090, "grafana": 3000,
	}
	// composeOnly are the published services make demo does not run.
	composeOnly = map[string]bool{"grafana": true}
	// inNetwork is the address each server has inside the compose network.
	inNetwork = map[string]string{
		"zookeeper": "zookeeper:2181", "kafka": "kafka:9092", "temporal": "temporal:7233",
		"s3server": "s3server:8000",
	}
	// required lists the BACKBEAT_* variables each project service must set: the
	// addresses and identities make demo passes as flags.
	required = map[string][]string{
		"s3server": {"BACKBEAT_LISTEN", "BACKBEAT_DATA_DIR", "BACKBEAT_ACCOUNTS"},
		"ingest": {"BACKBEAT_S3_ENDPOINT", "BACKBEAT_ACCESS_KEY", "BACKBEAT_SECRET_KEY", "BACKBEAT_KAFKA_BROKERS",
			"BACKBEAT_ZOOKEEPER", "BACKBEAT_TOPIC", "BACKBEAT_PARTITIONS", "BACKBEAT_METRICS_LISTEN"},
		"bridge": {"BACKBEAT_KAFKA_BROKERS", "BACKBEAT_TOPIC", "BACKBEAT_TEMPORAL_ADDRESS", "BACKBEAT_TASK_QUEUE",
			"BACKBEAT_METRICS_LISTEN"},
		"worker": {"BACKBEAT_TEMPORAL_ADDRESS", "BACKBEAT_TASK_QUEUE", "BACKBEAT_S3_ENDPOINT", "BACKBEAT_ACCESS_KEY",
			"BACKBEAT_SECRET_KEY", "BACKBEAT_METRICS_LISTEN"},
		"setup": {"BACKBEAT_SOURCE_ENDPOINT"},
	}
)

const topic = "backbeat-replication"

func root(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	return filepath.Dir(wd)
}

// load loads docker-compose.yml as `docker compose` would, with schema validation, and
// with an empty environment: the values are the file's defaults.
func load(t *testing.T) *types.Project {
	t.Helper()
	dir := root(t)
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, "docker-compose.yml")}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("backbeat", true) })
	require.NoError(t, err, "docker-compose.yml does not load")
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	require.True(t, ok, "docker-compose.yml has no service %q", name)
	return s
}

func env(s types.ServiceConfig, key string) string {
	if v := s.Environment[key]; v != nil {
		return *v
	}
	return ""
}

func port(t *testing.T, hostport string) uint32 {
	t.Helper()
	if u, err := url.Parse(hostport); err == nil && u.Host != "" {
		hostport = u.Host
	}
	_, p, err := net.SplitHostPort(hostport)
	require.NoError(t, err, "address %q", hostport)
	n, err := strconv.ParseUint(p, 10, 16)
	require.NoError(t, err, "address %q", hostport)
	return uint32(n)
}

func TestComposeServices(t *testing.T) {
	p := load(t)
	want := slices.Clone(infraServices)
	for s := range projectServices {
		want = append(want, s)
	}
	sort.Strings(want)
	require.Equal(t, want, p.ServiceNames())

	var image string
	for name, cmd := range projectServices {
		s := service(t, p, name)
		require.NotNil(t, s.Build, "%s: built from the Dockerfile", name)
		require.Equal(t, "Dockerfile", s.Build.Dockerfile, name)
		require.Equal(t, root(t), s.Build.Context, name)
		if image == "" {
			image = s.Image
		}
		require.Equal(t, image, s.Image, "%s: one image for every project service", name)
		require.Equal(t, cmd, []string(s.Command[:len(cmd)]), "%s: command", name)
	}
	for _, name := range infraServices {
		s := service(t, p, name)
		require.Nil(t, s.Build, "%s runs a published image", name)
		require.NotEmpty(t, s.Image, name)
		require.NotContains(t, s.Image, ":latest", "%s: pin the image", name)
		require.Contains(t, s.Image, ":", "%s: pin the image", name)
	}
	// One-shot containers.
	for _, name := range []string{"kafka-init", "temporal-init", "setup"} {
		require.Equal(t, "no", service(t, p, name).Restart, name)
	}
	setup := service(t, p, "setup")
	require.Equal(t, []string{"starter", "setup", "--source-bucket", "source-bucket", "--target-bucket", "target-bucket"},
		[]string(setup.Command))
	// Dependencies that make the start order: topic and search attributes first.
	dep := func(svc, on, cond string) {
		t.Helper()
		d, ok := service(t, p, svc).DependsOn[on]
		require.True(t, ok, "%s depends on %s", svc, on)
		require.Equal(t, cond, d.Condition, "%s depends on %s", svc, on)
	}
	dep("ingest", "kafka-init", types.ServiceConditionCompletedSuccessfully)
	dep("ingest", "s3server", types.ServiceConditionHealthy)
	dep("ingest", "zookeeper", types.ServiceConditionHealthy)
	dep("bridge", "kafka-init", types.ServiceConditionCompletedSuccessfully)
	dep("bridge", "temporal-init", types.ServiceConditionCompletedSuccessfully)
	dep("worker", "temporal-init", types.ServiceConditionCompletedSuccessfully)
	dep("setup", "s3server", types.ServiceConditionHealthy)
}

func TestComposePorts(t *testing.T) {
	p := load(t)
	demo, err := os.ReadFile(filepath.Join(root(t), "scripts", "demo.sh"))
	require.NoError(t, err)
	for _, name := range p.ServiceNames() {
		s := service(t, p, name)
		want, ok := published[name]
		if !ok {
			require.Empty(t, s.Ports, "%s publishes no port", name)
			continue
		}
		require.Len(t, s.Ports, 1, name)
		pc := s.Ports[0]
		require.Equal(t, strconv.Itoa(int(want)), pc.Published, "%s: host port", name)
		require.Equal(t, "127.0.0.1", pc.HostIP, "%s: published on 127.0.0.1 only", name)
		// make demo uses the same port.
		if composeOnly[name] {
			continue
		}
		require.Contains(t, string(demo), "127.0.0.1:"+strconv.Itoa(int(want)), "scripts/demo.sh: port of %s", name)
	}
	// The project's servers listen, in their container, on the published target port.
	listen := map[string]string{"s3server": "BACKBEAT_LISTEN", "ingest": "BACKBEAT_METRICS_LISTEN",
		"bridge": "BACKBEAT_METRICS_LISTEN", "worker": "BACKBEAT_METRICS_LISTEN"}
	for name, key := range listen {
		s := service(t, p, name)
		addr := env(s, key)
		host, _, err := net.SplitHostPort(addr)
		require.NoError(t, err, "%s %s=%q", name, key, addr)
		require.Equal(t, "0.0.0.0", host, "%s %s: reachable from the host through the published port", name, key)
		require.Equal(t, s.Ports[0].Target, port(t, addr), "%s %s", name, key)
	}
	// Kafka: the host port leads to the listener advertised as 127.0.0.1:9092, and the
	// services use the in-network listener.
	k := service(t, p, "kafka")
	require.Contains(t, env(k, "KAFKA_LISTENERS"), "HOST://:"+strconv.Itoa(int(k.Ports[0].Target)))
	require.Contains(t, env(k, "KAFKA_ADVERTISED_LISTENERS"), "HOST://127.0.0.1:9092")
	require.Contains(t, env(k, "KAFKA_ADVERTISED_LISTENERS"), "INTERNAL://"+inNetwork["kafka"])
}

// flags is what a command's -h says: each environment variable it reads and its default
// ("" when none is printed).
type flags map[string]string

var (
	envRE = regexp.MustCompile(`\(env ([A-Z0-9_]+)\)(?:\s+\(default (?:"([^"]*)"|([^)]*))\))?`)
	// secretRE is how a --NAME-file flag names the variable that holds the secret itself
	// (internal/flagenv.SecretVar).
	secretRE = regexp.MustCompile(`\(empty: the environment variable ([A-Z0-9_]+);`)
)

// help runs a command's help (built with devstack.Build) and parses the "(env NAME)" and
// "(default ...)" that internal/flagenv prints for every flag, and the variables that
// hold secrets.
func help(t *testing.T, cmd []string) flags {
	t.Helper()
	bin := devstack.Build(t, "cmd/"+cmd[0])
	out, err := exec.Command(bin, append(slices.Clone(cmd[1:]), "-h")...).CombinedOutput()
	require.NoError(t, err, "%s -h: %s", strings.Join(cmd, " "), out)
	f := flags{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		for _, m := range envRE.FindAllStringSubmatch(sc.Text(), -1) {
			f[m[1]] = m[2] + m[3]
		}
		for _, m := range secretRE.FindAllStringSubmatch(sc.Text(), -1) {
			f[m[1]] = ""
		}
	}
	require.NotEmpty(t, f, "%s -h shows no (env ...)", cmd[0])
	return f
}

func TestComposeAgreesWithCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every command to read its -h")
	}
	p := load(t)
	read := map[string]flags{}
	for name, cmd := range projectServices {
		read[name] = help(t, cmd)
	}

	// Every BACKBEAT_* variable of a service is one its command reads, and the ones
	// make demo passes are set.
	for name := range projectServices {
		s := service(t, p, name)
		for key := range s.Environment {
			if strings.HasPrefix(key, "BACKBEAT_") {
				_, ok := read[name][key]
				require.True(t, ok, "%s sets %s, which `%s -h` does not list", name, key, strings.Join(projectServices[name], " "))
			}
		}
		for _, key := range required[name] {
			require.NotEmpty(t, env(s, key), "%s must set %s", name, key)
		}
	}

	// The code's defaults are the ports published on the host (what make demo uses).
	defaults := []struct{ service, key, server string }{
		{"s3server", "BACKBEAT_LISTEN", "s3server"},
		{"ingest", "BACKBEAT_S3_ENDPOINT", "s3server"},
		{"ingest", "BACKBEAT_KAFKA_BROKERS", "kafka"},
		{"ingest", "BACKBEAT_ZOOKEEPER", "zookeeper"},
		{"ingest", "BACKBEAT_METRICS_LISTEN", "ingest"},
		{"bridge", "BACKBEAT_KAFKA_BROKERS", "kafka"},
		{"bridge", "BACKBEAT_TEMPORAL_ADDRESS", "temporal"},
		{"bridge", "BACKBEAT_METRICS_LISTEN", "bridge"},
		{"worker", "BACKBEAT_TEMPORAL_ADDRESS", "temporal"},
		{"worker", "BACKBEAT_S3_ENDPOINT", "s3server"},
		{"worker", "BACKBEAT_METRICS_LISTEN", "worker"},
		{"setup", "BACKBEAT_SOURCE_ENDPOINT", "s3server"},
	}
	for _, d := range defaults {
		def, ok := read[d.service][d.key]
		require.True(t, ok, "%s reads %s", d.service, d.key)
		require.Equal(t, published[d.server], port(t, def), "%s: default of %s (%q) vs the port of %s", d.service, d.key, def, d.server)
		// In the compose network, a client reaches the server by its service name.
		if addr, ok := inNetwork[d.server]; ok && d.service != d.server {
			v := env(service(t, p, d.service), d.key)
			if u, err := url.Parse(v); err == nil && u.Host != "" {
				v = u.Host
			}
			require.Equal(t, addr, v, "%s %s", d.service, d.key)
		}
	}

	// Topic, consumer group, task queue, partitions.
	for _, name := range []string{"ingest", "bridge"} {
		require.Equal(t, topic, read[name]["BACKBEAT_TOPIC"], "%s: default topic", name)
		require.Equal(t, topic, env(service(t, p, name), "BACKBEAT_TOPIC"), name)
	}
	require.Equal(t, read["bridge"]["BACKBEAT_GROUP"], env(service(t, p, "bridge"), "BACKBEAT_GROUP"))
	for _, name := range []string{"bridge", "worker"} {
		require.Equal(t, contract.TaskQueue, read[name]["BACKBEAT_TASK_QUEUE"], "%s: default task queue", name)
		require.Equal(t, contract.TaskQueue, env(service(t, p, name), "BACKBEAT_TASK_QUEUE"), name)
	}
	init := strings.Join(service(t, p, "kafka-init").Command, " ")
	require.Contains(t, init, "--topic "+topic)
	require.Contains(t, init, "--partitions "+env(service(t, p, "ingest"), "BACKBEAT_PARTITIONS"))
	require.Equal(t, read["ingest"]["BACKBEAT_PARTITIONS"], env(service(t, p, "ingest"), "BACKBEAT_PARTITIONS"),
		"ingest: partitions as the code's default")
}

// script reads a file of scripts/.
func script(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), "scripts", name))
	require.NoError(t, err)
	return string(b)
}

func TestComposeSearchAttributes(t *testing.T) {
	p := load(t)
	cmd := strings.Join(service(t, p, "temporal-init").Command, " ")
	list := script(t, "search-attributes.sh")
	m := regexp.MustCompile(`(?m)^SEARCH_ATTRIBUTES=\(([^)]*)\)`).FindStringSubmatch(list)
	require.NotNil(t, m, "scripts/search-attributes.sh: SEARCH_ATTRIBUTES=(NAME=TYPE ...)")
	var want []string
	for name, typ := range contract.SearchAttributes() {
		want = append(want, name+"="+typ)
		require.Contains(t, cmd, name+"="+typ, "temporal-init registers %s", name)
	}
	require.ElementsMatch(t, want, strings.Fields(m[1]), "scripts/search-attributes.sh lists contract.SearchAttributes()")
	// Both Temporal scripts use that one list.
	for _, name := range []string{"temporal.sh", "temporal-postgres.sh"} {
		require.Contains(t, script(t, name), `. "$ROOT/scripts/search-attributes.sh"`, "scripts/%s sources the list", name)
		require.NotContains(t, script(t, name), "SEARCH_ATTRIBUTES=(", "scripts/%s keeps no list of its own", name)
	}
	require.Contains(t, cmd, "temporal operator search-attribute create")
	// Compose interpolation turns $$ into $: the shell sees its own ${sa%%=*}.
	require.Contains(t, cmd, "${sa%%=*}")
}

func TestComposeCredentials(t *testing.T) {
	p := load(t)
	cfg, ok := p.Configs["accounts"]
	require.True(t, ok, "configs.accounts")
	var accounts struct {
		Accounts []struct {
			Name, AccessKey, SecretKey string
			Replication                bool
		}
	}
	require.NoError(t, json.Unmarshal([]byte(cfg.Content), &accounts), "accounts content:\n%s", cfg.Content)
	byName := map[string]int{}
	for i, a := range accounts.Accounts {
		byName[a.Name] = i
		require.NotEmpty(t, a.AccessKey, a.Name)
		require.NotEmpty(t, a.SecretKey, a.Name)
	}
	user := accounts.Accounts[byName["backbeatuser"]]
	repl := accounts.Accounts[byName["replication"]]
	require.Equal(t, "backbeatuser", user.Name)
	require.True(t, repl.Replication, "the replication account is marked replication")
	require.False(t, user.Replication)

	s3 := service(t, p, "s3server")
	require.Len(t, s3.Configs, 1)
	require.Equal(t, env(s3, "BACKBEAT_ACCOUNTS"), s3.Configs[0].Target)
	for _, name := range []string{"ingest", "worker"} {
		s := service(t, p, name)
		require.Equal(t, repl.AccessKey, env(s, "BACKBEAT_ACCESS_KEY"), "%s uses the replication identity", name)
		require.Equal(t, repl.SecretKey, env(s, "BACKBEAT_SECRET_KEY"), name)
	}
	setup := service(t, p, "setup")
	require.Equal(t, user.AccessKey, env(setup, "AWS_ACCESS_KEY_ID"), "setup acts as backbeatuser")
	require.Equal(t, user.SecretKey, env(setup, "AWS_SECRET_ACCESS_KEY"))
}

func TestDockerfileBuildsEveryCommand(t *testing.T) {
	dir := root(t)
	data, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	require.NoError(t, err)
	df := string(data)

	// Every main package under cmd/.
	entries, err := os.ReadDir(filepath.Join(dir, "cmd"))
	require.NoError(t, err)
	var cmds []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(dir, "cmd", e.Name(), "main.go")); e.IsDir() && err == nil {
			cmds = append(cmds, e.Name())
		}
	}
	require.NotEmpty(t, cmds)

	// The builder stage: golang at least as new as go.mod's go directive.
	m := regexp.MustCompile(`(?m)^FROM golang:(\d+)\.(\d+)\S*\s+AS\s+(\w+)`).FindStringSubmatch(df)
	require.NotNil(t, m, "Dockerfile: a `FROM golang:X.Y AS name` stage")
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	require.NoError(t, err)
	g := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)`).FindStringSubmatch(string(gomod))
	require.NotNil(t, g, "go.mod: go directive")
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	require.True(t, atoi(m[1]) > atoi(g[1]) || atoi(m[1]) == atoi(g[1]) && atoi(m[2]) >= atoi(g[2]),
		"golang:%s.%s is older than go.mod's go %s.%s", m[1], m[2], g[1], g[2])

	build := regexp.MustCompile(`(?m)^RUN .*go build .*-o (\S+) (.*)$`).FindStringSubmatch(df)
	require.NotNil(t, build, "Dockerfile: a `RUN go build -o DIR PACKAGES` line")
	out, pkgs := build[1], strings.Fields(build[2])
	for _, c := range cmds {
		require.True(t, slices.Contains(pkgs, "./cmd/...") || slices.Contains(pkgs, "./cmd/"+c),
			"Dockerfile builds cmd/%s (packages: %v)", c, pkgs)
	}
	require.Regexp(t, `(?m)^COPY --from=`+m[3]+` `+regexp.QuoteMeta(out)+` /usr/local/bin/`, df,
		"the runtime stage copies the binaries from %s", out)

	// Every project service runs one of those commands.
	p := load(t)
	for name := range projectServices {
		require.Contains(t, cmds, service(t, p, name).Command[0], "%s runs a command of cmd/", name)
	}

	// The build context keeps what the build needs.
	ignore, err := os.ReadFile(filepath.Join(dir, ".dockerignore"))
	require.NoError(t, err)
	for _, line := range strings.Split(string(ignore), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, keep := range []string{"go.mod", "go.sum", "cmd", "cmd/s3server/main.go", "internal", "workflows/api.go"} {
			ok, err := filepath.Match(line, keep)
			require.NoError(t, err, ".dockerignore pattern %q", line)
			require.False(t, ok || line == keep || strings.HasPrefix(keep, line+"/"), ".dockerignore %q drops %s", line, keep)
		}
	}
}

// TestComposeTemporalMatchesScript keeps docker-compose.yml's Temporal and the one
// scripts/temporal-postgres.sh starts without Docker in step: server and UI versions,
// history shards (also devstack's default), PostgreSQL as the store.
func TestComposeTemporalMatchesScript(t *testing.T) {
	p := load(t)
	sh := script(t, "temporal-postgres.sh")
	setting := func(name string) string {
		t.Helper()
		m := regexp.MustCompile(`(?m)^` + name + `=(\S+)`).FindStringSubmatch(sh)
		require.NotNil(t, m, "scripts/temporal-postgres.sh sets %s", name)
		return m[1]
	}
	tag := func(svc, repo string) string {
		t.Helper()
		img := service(t, p, svc).Image
		require.True(t, strings.HasPrefix(img, repo+":"), "%s runs %s (image %s)", svc, repo, img)
		return strings.TrimPrefix(img, repo+":")
	}
	temporal := service(t, p, "temporal")
	require.Equal(t, "v"+tag("temporal", "temporalio/auto-setup"), setting("VERSION"), "server version: compose vs script")
	require.Equal(t, "v"+tag("temporal-ui", "temporalio/ui"), setting("UI_VERSION"), "Web UI version: compose vs script")
	require.True(t, strings.HasPrefix(service(t, p, "temporal-init").Image, "temporalio/admin-tools:"+tag("temporal", "temporalio/auto-setup")+"-"),
		"temporal-init's admin tools are of the server's version")

	shards := env(temporal, "NUM_HISTORY_SHARDS")
	require.NotEmpty(t, shards, "compose sets NUM_HISTORY_SHARDS (the image's default may change)")
	require.Equal(t, "${TEMPORAL_SHARDS:-"+shards+"}", setting("SHARDS"), "history shards: compose vs the script's default")
	require.Equal(t, shards, strconv.Itoa(devstack.DefaultTemporalShards), "history shards: compose vs devstack")

	require.Equal(t, "postgres12", env(temporal, "DB"), "compose's Temporal stores in PostgreSQL")
	require.Contains(t, sh, "--plugin postgres12", "the script's schema tool uses the same SQL plugin")
	require.Contains(t, sh, "pluginName: postgres12", "the script's server uses the same SQL plugin")
}

func TestComposeKafkaKeepsItsLog(t *testing.T) {
	p := load(t)
	k := service(t, p, "kafka")
	dir := env(k, "KAFKA_LOG_DIRS")
	require.NotEmpty(t, dir, "kafka sets KAFKA_LOG_DIRS")
	var found bool
	for _, v := range k.Volumes {
		if v.Target == dir {
			found = true
			require.Equal(t, types.VolumeTypeVolume, v.Type, "a named volume")
			require.Contains(t, p.Volumes, v.Source, "declared under volumes:")
		}
	}
	require.True(t, found, "kafka's log directory %s is a volume", dir)
}

// TestTemporalDynamicConfigHasOneHome: every Temporal the project runs reads
// deploy/temporal/dynamicconfig.yaml - compose mounts it as the server's dynamic config
// file, scripts/temporal.sh passes it to the dev server, scripts/temporal-postgres.sh
// appends it to its own, devstack passes it to the dev server of the tests - and it
// enables eager activity dispatch (the replication batches' schedule-to-start).
func TestTemporalDynamicConfigHasOneHome(t *testing.T) {
	const file = "deploy/temporal/dynamicconfig.yaml"
	temporal := service(t, load(t), "temporal")
	path := env(temporal, "DYNAMIC_CONFIG_FILE_PATH")
	require.NotEmpty(t, path, "compose's Temporal names its dynamic config file")
	var mounted bool
	for _, v := range temporal.Volumes {
		if v.Target == "/etc/temporal/"+path {
			mounted = true
			assert.Equal(t, filepath.Join(root(t), file), v.Source, "compose mounts %s as the dynamic config", file)
			assert.True(t, v.ReadOnly)
		}
	}
	assert.True(t, mounted, "compose mounts a file at /etc/temporal/%s", path)
	assert.Contains(t, script(t, "temporal.sh"), file, "the dev server of the demo reads it")
	assert.Contains(t, script(t, "temporal-postgres.sh"), file, "the server on PostgreSQL reads it")

	dc, err := devstack.DynamicConfig()
	require.NoError(t, err)
	assert.Contains(t, dc, "system.enableActivityEagerExecution=true")
	assert.Contains(t, dc, "history.transferProcessorMaxPollRPS=1000")
}
