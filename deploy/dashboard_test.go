package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/backbeat-temporal/backbeat/internal/enginetest"
	"github.com/backbeat-temporal/backbeat/internal/metricsserver"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

// dashboardFile is the Grafana dashboard provisioned by docker-compose.yml.
const dashboardFile = "deploy/grafana/dashboards/backbeat.json"

// prometheusSeries are the series Prometheus makes itself (not exported by a process).
var prometheusSeries = []string{"up"}

// promQLWords are the PromQL functions, operators and keywords the dashboard uses.
var promQLWords = []string{"sum", "max", "min", "avg", "by", "without", "rate", "increase", "histogram_quantile",
	"and", "or", "unless", "on", "ignoring", "offset"}

// dashboardExprs returns the PromQL expression of every panel of the dashboard.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root(t), dashboardFile))
	require.NoError(t, err)
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(data, &d), dashboardFile)
	require.NotEmpty(t, d.UID)
	var out []string
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		require.NotEmpty(t, p.Targets, "panel %q queries nothing", p.Title)
		for _, tg := range p.Targets {
			require.NotEmpty(t, tg.Expr, "panel %q", p.Title)
			out = append(out, tg.Expr)
		}
	}
	return out
}

var (
	labelMatchers = regexp.MustCompile(`\{[^}]*\}`)
	rangeOrGroup  = regexp.MustCompile(`\[[^\]]*\]|\b(by|without|on|ignoring)\s*\([^)]*\)`)
	quoted        = regexp.MustCompile(`"[^"]*"`)
	identifier    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
)

// metricNames returns the metric names expr reads.
func metricNames(expr string) []string {
	e := labelMatchers.ReplaceAllString(expr, " ")
	e = rangeOrGroup.ReplaceAllString(e, " ")
	e = quoted.ReplaceAllString(e, " ")
	var out []string
	for _, id := range identifier.FindAllString(e, -1) {
		if !slices.Contains(promQLWords, id) {
			out = append(out, id)
		}
	}
	return out
}

func TestMetricNamesOfPromQL(t *testing.T) {
	assert.Equal(t, []string{"x_bucket"},
		metricNames(`histogram_quantile(0.99, sum by (le, task_queue) (rate(x_bucket{a="b",c=~"d|e"}[5m])))`))
	assert.Equal(t, []string{"a_total", "b"}, metricNames(`sum without (site) (increase(a_total[1h])) / on (x) max(b)`))
}

// Every metric the dashboard queries is exported by a process of the running engine,
// once it has replicated a version and failed one (counters with labels appear at their
// first use).
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("starts every process of the engine")
	}
	want := map[string][]string{} // metric → the expressions that read it
	for _, e := range dashboardExprs(t) {
		for _, n := range metricNames(e) {
			want[n] = append(want[n], e)
		}
	}
	require.NotEmpty(t, want)

	e := enginetest.Start(t, enginetest.Options{Partitions: 2, WorkerArgs: []string{"--retries", "1"}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	src, dst := e.Src.Client(s3test.User), e.Dst.Client(s3test.User)
	for _, b := range []struct {
		c    *s3.Client
		name string
	}{{src, "src"}, {dst, "dst"}} {
		_, err := b.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b.name)})
		require.NoError(t, err)
		_, err = b.c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(b.name),
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
		require.NoError(t, err)
	}
	rule := func(id, prefix, dest string) s3types.ReplicationRule {
		return s3types.ReplicationRule{ID: aws.String(id), Status: s3types.ReplicationRuleStatusEnabled, Priority: aws.Int32(int32(len(id))),
			Filter: &s3types.ReplicationRuleFilter{Prefix: aws.String(prefix)}, DeleteMarkerReplication: &s3types.DeleteMarkerReplication{Status: s3types.DeleteMarkerReplicationStatusEnabled},
			Destination: &s3types.Destination{Bucket: aws.String("arn:aws:s3:::" + dest), StorageClass: "dr"}} // the worker's site of the target s3server
	}
	_, err := src.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: aws.String("src"),
		ReplicationConfiguration: &s3types.ReplicationConfiguration{Role: aws.String("arn:aws:iam::000000000000:role/backbeat"),
			Rules: []s3types.ReplicationRule{rule("ok", "ok/", "dst"), rule("missing", "bad/", "no-such-bucket")}}})
	require.NoError(t, err)
	for _, k := range []string{"ok/a", "bad/b"} {
		_, err := src.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String(k), Body: strings.NewReader("data of " + k)})
		require.NoError(t, err)
	}

	var missing []string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		exported := map[string]bool{}
		for _, addr := range []string{e.IngestMetrics, e.BridgeMetrics, e.WorkerMetrics} {
			series, err := metricsserver.Scrape(ctx, addr)
			if !assert.NoError(c, err, addr) {
				return
			}
			for sr := range series {
				exported[metricsserver.SeriesName(sr)] = true
			}
		}
		missing = missing[:0]
		for n := range want {
			if !exported[n] && !slices.Contains(prometheusSeries, n) {
				missing = append(missing, fmt.Sprintf("%s (in %q)", n, want[n][0]))
			}
		}
		slices.Sort(missing)
		assert.Empty(c, missing, "metrics the dashboard queries that no process exports")
	}, 2*time.Minute, 500*time.Millisecond)
}

// docker-compose.yml's Prometheus scrapes every process that serves /metrics, at its
// address in the compose network, and Grafana is provisioned with the dashboard.
func TestComposePrometheusAndGrafana(t *testing.T) {
	p := load(t)
	var cfg struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	prom := service(t, p, "prometheus")
	var promFile string
	for _, v := range prom.Volumes {
		if v.Target == "/etc/prometheus/prometheus.yml" {
			promFile = v.Source
		}
	}
	require.NotEmpty(t, promFile, "prometheus mounts its configuration")
	data, err := os.ReadFile(promFile)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &cfg))
	var targets []string
	for _, sc := range cfg.ScrapeConfigs {
		require.True(t, strings.HasPrefix(sc.JobName, "backbeat-"), "job %s: the dashboard counts jobs backbeat-*", sc.JobName)
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	for _, name := range []string{"ingest", "bridge", "worker"} {
		s := service(t, p, name)
		want := fmt.Sprintf("%s:%d", name, port(t, env(s, "BACKBEAT_METRICS_LISTEN")))
		assert.Contains(t, targets, want, "prometheus scrapes %s", name)
	}

	g := service(t, p, "grafana")
	mounts := map[string]string{}
	for _, v := range g.Volumes {
		mounts[v.Target] = v.Source
	}
	require.Equal(t, filepath.Join(root(t), "deploy/grafana/dashboards"), mounts["/var/lib/grafana/dashboards"])
	require.Equal(t, filepath.Join(root(t), "deploy/grafana/provisioning"), mounts["/etc/grafana/provisioning"])
	_, err = os.Stat(filepath.Join(root(t), dashboardFile))
	require.NoError(t, err)
	ds, err := os.ReadFile(filepath.Join(root(t), "deploy/grafana/provisioning/datasources/prometheus.yml"))
	require.NoError(t, err)
	assert.Contains(t, string(ds), "uid: prometheus", "the dashboard's datasource uid")
	assert.Contains(t, string(ds), fmt.Sprintf("http://prometheus:%d", published["prometheus"]))
}
