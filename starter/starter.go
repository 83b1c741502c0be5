// Package starter is the user's command-line tool (bin/starter), the counterpart of
// Backbeat's setupReplication.js plus the day-to-day operations of the engine:
//
//	setup        create the buckets, enable versioning, put the replication configuration
//	validate     check versioning, the replication rule and the target's reachability
//	status       one object's replication status on the source and on the target
//	partitions   each partition workflow's backlog, counters and paused flag
//	failed list  FAILED versions with their reasons
//	failed retry re-queue FAILED versions (PENDING again, through journal → Kafka → workflow)
//	pause/resume signal the partition workflows
//	backfill     mark existing versions that have no replication status PENDING
//
// Everything runs through Execute, which the thin main in cmd/starter calls; the exit
// code is ExitOK, ExitFailed or ExitUsage.
//
// Configuration. S3 credentials come from AWS shared config profiles
// (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE are honoured; with no profile flag the
// SDK's default chain is used: AWS_PROFILE, AWS_ACCESS_KEY_ID..., the default profile).
// Endpoints and the other connection settings (the global flags, setup's --role and
// --output) come from flags or from environment variables named as in every other
// command (internal/flagenv: --source-endpoint → BACKBEAT_SOURCE_ENDPOINT; see the Env*
// constants); a flag given on the command line wins over the environment, which wins
// over the default. Custom endpoints are addressed path-style.
//
// The replication identity (the s3server account marked "replication", the only one
// allowed on the privileged /_/backbeat/ routes) is needed by the commands that read
// reasons or write statuses (failed, backfill; optional for status): --replication-profile
// (env BACKBEAT_REPLICATION_PROFILE), or --replication-access-key (env
// BACKBEAT_REPLICATION_ACCESS_KEY) with the secret key in BACKBEAT_REPLICATION_SECRET_KEY
// or in the file named by --replication-secret-key-file (a secret is never a flag value,
// which other users could see in ps).
package starter

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/internal/flagenv"
	"github.com/backbeat-temporal/backbeat/internal/tclient"
	"github.com/backbeat-temporal/backbeat/internal/tlsconf"
)

// Exit codes of Execute (and of bin/starter).
const (
	// ExitOK: the command did what it was asked and every check passed.
	ExitOK = 0
	// ExitFailed: a check failed or the operation could not be done (unreachable
	// endpoint, missing bucket, refused credentials...); stderr says why.
	ExitFailed = 1
	// ExitUsage: the command line is wrong (unknown command or flag, missing required
	// flag, bad value); stderr says what is expected.
	ExitUsage = 2
)

// Defaults of the connection flags.
const (
	// DefaultS3Endpoint is the source endpoint (flag --source-endpoint).
	DefaultS3Endpoint = "http://127.0.0.1:8000"
	// DefaultRegion signs the S3 requests (flag --region).
	DefaultRegion = "us-east-1"
	// DefaultTemporalAddress is the Temporal frontend (flag --temporal-address).
	DefaultTemporalAddress = "127.0.0.1:7233"
	// DefaultNamespace is the Temporal namespace (flag --namespace).
	DefaultNamespace = "default"
	// DefaultTopic is the Kafka topic whose partitions the workflows replicate
	// (flag --topic); the same default as ingest and the bridge.
	DefaultTopic = contract.DefaultTopic
	// DefaultTimeout bounds each request to S3 or Temporal (flag --timeout): an
	// endpoint that does not answer within it is reported unreachable. No request is
	// retried.
	DefaultTimeout = 10 * time.Second
	// DefaultRole is the replication configuration's Role put by setup (flag --role),
	// the IAM-style role ARN of Backbeat's examples. s3server checks only its form
	// (arn:aws:iam::ACCOUNT:role/NAME, or a "source,target" pair of them) and keeps it
	// on every PENDING version.
	DefaultRole = "arn:aws:iam::root:role/s3-replication-role"
)

// Environment variables read by starter. A flag given on the command line wins.
const (
	// EnvSourceEndpoint backs --source-endpoint; when unset, EnvS3Endpoint does.
	EnvSourceEndpoint = "BACKBEAT_SOURCE_ENDPOINT"
	// EnvS3Endpoint is ingest's and the worker's name of the source endpoint
	// (--s3-endpoint), which .demo/env exports: starter reads it when EnvSourceEndpoint
	// is unset.
	EnvS3Endpoint = "BACKBEAT_S3_ENDPOINT"
	// EnvTargetEndpoint backs --target-endpoint (default: the source endpoint).
	EnvTargetEndpoint = "BACKBEAT_TARGET_ENDPOINT"
	// EnvSourceProfile backs --source-profile.
	EnvSourceProfile = "BACKBEAT_SOURCE_PROFILE"
	// EnvTargetProfile backs --target-profile (default: the source profile).
	EnvTargetProfile = "BACKBEAT_TARGET_PROFILE"
	// EnvReplicationProfile backs --replication-profile.
	EnvReplicationProfile = "BACKBEAT_REPLICATION_PROFILE"
	// EnvReplicationAccessKey backs --replication-access-key, the replication
	// identity's access key when no replication profile is given.
	EnvReplicationAccessKey = "BACKBEAT_REPLICATION_ACCESS_KEY"
	// EnvReplicationSecretKey holds the replication identity's secret key when
	// --replication-secret-key-file is not given (a secret is never a flag value).
	EnvReplicationSecretKey = "BACKBEAT_REPLICATION_SECRET_KEY"
	// EnvRegion backs --region.
	EnvRegion = "BACKBEAT_REGION"
	// EnvTemporalAddress backs --temporal-address.
	EnvTemporalAddress = "BACKBEAT_TEMPORAL_ADDRESS"
	// EnvNamespace backs --namespace (the worker's and the bridge's name too).
	EnvNamespace = "BACKBEAT_NAMESPACE"
	// EnvS3CAFile backs --s3-ca-file; when both are empty, AWS_CA_BUNDLE (the AWS SDKs'
	// convention) is read, as by ingest and the worker.
	EnvS3CAFile = "BACKBEAT_S3_CA_FILE"
	// EnvTemporalTLSCA, EnvTemporalTLSCert, EnvTemporalTLSKey and
	// EnvTemporalTLSServerName back the --temporal-tls-* flags (the worker's and the
	// bridge's names too).
	EnvTemporalTLSCA         = "BACKBEAT_TEMPORAL_TLS_CA"
	EnvTemporalTLSCert       = "BACKBEAT_TEMPORAL_TLS_CERT"
	EnvTemporalTLSKey        = "BACKBEAT_TEMPORAL_TLS_KEY"
	EnvTemporalTLSServerName = "BACKBEAT_TEMPORAL_TLS_SERVER_NAME"
	// EnvTopic backs --topic.
	EnvTopic = "BACKBEAT_TOPIC"
	// EnvPartitions backs --partitions.
	EnvPartitions = "BACKBEAT_PARTITIONS"
	// EnvTimeout backs --timeout.
	EnvTimeout = "BACKBEAT_TIMEOUT"
	// EnvRole backs setup's --role.
	EnvRole = "BACKBEAT_ROLE"
	// EnvOutput backs --output.
	EnvOutput = "BACKBEAT_OUTPUT"
	// EnvMetricsURLs backs stats --metrics-url (comma-separated).
	EnvMetricsURLs = "BACKBEAT_METRICS_URL"
	// EnvKafkaBrokers backs stats --kafka-brokers (ingest's and the bridge's name too);
	// EnvGroup backs stats --group (the bridge's name too). stats' --kafka-tls* and
	// --kafka-sasl-* flags are backed by BACKBEAT_KAFKA_TLS... as ingest's and the
	// bridge's.
	EnvKafkaBrokers = "BACKBEAT_KAFKA_BROKERS"
	EnvGroup        = "BACKBEAT_GROUP"
)

// replicationKeys says how to give the replication identity's keys.
const replicationKeys = "--replication-access-key (env " + EnvReplicationAccessKey + ") with the secret key in " +
	EnvReplicationSecretKey + " or --replication-secret-key-file"

// Output formats (flag --output).
const (
	OutputText = "text"
	OutputJSON = "json"
)

// exitError is an error with the exit code it causes. Every error a command returns is
// one (see wrapRun); errors of cobra itself (unknown flag...) are usage errors.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// failf is an ExitFailed error.
func failf(format string, args ...any) error {
	return &exitError{code: ExitFailed, msg: fmt.Sprintf(format, args...)}
}

// usagef is an ExitUsage error.
func usagef(format string, args ...any) error {
	return &exitError{code: ExitUsage, msg: fmt.Sprintf(format, args...)}
}

// silentFailure is an ExitFailed error whose explanation was already printed.
var silentFailure = &exitError{code: ExitFailed}

// Execute runs the starter command line args (without the program name), writing
// results to stdout and messages to stderr, and returns the exit code: ExitOK,
// ExitFailed or ExitUsage. ctx cancels the requests in flight (Ctrl-C).
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr, lookupEnv: os.LookupEnv}
	root := a.rootCommand()
	if err := flagenv.CheckArgs(root.PersistentFlags(), args); err != nil {
		fmt.Fprintf(stderr, "starter: %s\n", err)
		return ExitUsage
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintf(stderr, "starter: %s\n", ee.msg)
		}
		if ee.code == ExitUsage && cmd != nil {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		return ee.code
	}
	// cobra's own errors: unknown command or flag, bad flag value, wrong arguments.
	fmt.Fprintf(stderr, "starter: %s\n", err)
	if cmd == nil {
		cmd = root
	}
	fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	return ExitUsage
}

// app holds the parsed global flags and the command's output streams.
type app struct {
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool)

	sourceEndpoint, targetEndpoint string
	sourceProfile, targetProfile   string
	replicationProfile             string
	replicationAccessKey           string
	replicationSecretKey           string // never a flag value: flagenv.PSecretVar
	region                         string
	temporalAddress, namespace     string
	s3CAFile                       string
	s3TLS                          *tls.Config // from s3CAFile; nil: the system's roots
	temporalTLS                    tlsconf.Client
	topic                          string
	partitions                     int
	timeout                        time.Duration
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "starter",
		Short: "Set up and operate bucket replication with Backbeat on Temporal",
		Long: `starter sets up bucket replication on an S3 endpoint (the project's s3server or any S3)
and operates the replication engine: statuses, partition workflows, failed versions,
backfill.

Exit codes: 0 success, 1 a check or the operation failed (stderr says why and how to fix
it), 2 usage error.

Credentials come from AWS shared config profiles (AWS_CONFIG_FILE and
AWS_SHARED_CREDENTIALS_FILE are honoured; without --source-profile the SDK's default chain
is used: AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the default profile).
Commands that read failure reasons or write statuses (failed, backfill; optionally
status) use s3server's replication identity: --replication-profile, or
--replication-access-key with the secret key in ` + EnvReplicationSecretKey + ` or in the
file of --replication-secret-key-file (never a flag value, which ps would show).

Every connection flag has an environment fallback, shown in its help as (env NAME) and
named as in every other command (--foo-bar: BACKBEAT_FOO_BAR); a flag on the command line
wins over the environment, which wins over the default.
With the demo: source .demo/env, then e.g.
  starter setup --source-bucket source-bucket --target-bucket target-bucket --source-profile backbeatuser`,
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetOut(a.stderr)
			cmd.Help()
			return usagef("a command is required")
		},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := flagenv.ApplyEnv(cmd.Flags(), a.lookupEnv); err != nil {
				return usagef("%v", err)
			}
			// The source endpoint has the name ingest and the worker give it too
			// (--s3-endpoint: BACKBEAT_S3_ENDPOINT, as in .demo/env).
			if _, set := a.lookupEnv(EnvSourceEndpoint); !set && !cmd.Flags().Changed("source-endpoint") {
				if v, ok := a.lookupEnv(EnvS3Endpoint); ok {
					a.sourceEndpoint = v
				}
			}
			a.s3CAFile = tlsconf.S3CAFile(a.s3CAFile, func(k string) string { v, _ := a.lookupEnv(k); return v })
			if a.timeout <= 0 {
				return usagef("--timeout must be positive, not %s", a.timeout)
			}
			if a.targetEndpoint == "" {
				a.targetEndpoint = a.sourceEndpoint
			}
			if a.targetProfile == "" {
				a.targetProfile = a.sourceProfile
			}
			if a.s3CAFile != "" {
				tc, err := (tlsconf.Client{CAFile: a.s3CAFile}).Config()
				if err != nil {
					return usagef("--s3-ca-file (or %s, %s): %v", EnvS3CAFile, tlsconf.EnvAWSCABundle, err)
				}
				a.s3TLS = tc
			}
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.sourceEndpoint, "source-endpoint", DefaultS3Endpoint,
		"base URL of the source S3 endpoint (s3server); also where the privileged routes and the replication identity are used")
	pf.StringVar(&a.targetEndpoint, "target-endpoint", "", "base URL of the target S3 endpoint (default: the source endpoint)")
	pf.StringVar(&a.sourceProfile, "source-profile", "",
		"AWS shared config profile of the source bucket's owner (default: the SDK's default chain: AWS_PROFILE, AWS_ACCESS_KEY_ID, profile default)")
	pf.StringVar(&a.targetProfile, "target-profile", "", "AWS shared config profile of the target bucket's owner (default: the source profile)")
	pf.StringVar(&a.replicationProfile, "replication-profile", "",
		"AWS shared config profile of s3server's replication identity (default: --replication-access-key and its secret key)")
	pf.StringVar(&a.replicationAccessKey, "replication-access-key", "", "access key of s3server's replication identity, when no --replication-profile is given")
	flagenv.PSecretVar(pf, &a.replicationSecretKey, "replication-secret-key", "secret key of --replication-access-key")
	pf.StringVar(&a.region, "region", DefaultRegion, "signing region of the S3 requests")
	pf.StringVar(&a.temporalAddress, "temporal-address", DefaultTemporalAddress, "Temporal frontend host:port")
	pf.StringVar(&a.s3CAFile, "s3-ca-file", "", "PEM bundle of the CAs that sign the S3 endpoints' HTTPS certificates (empty: $AWS_CA_BUNDLE, else the system's roots)")
	tclient.AddTLSFlags(pf, &a.temporalTLS)
	pf.StringVar(&a.namespace, "namespace", DefaultNamespace, "Temporal namespace of the partition workflows")
	pf.StringVar(&a.topic, "topic", DefaultTopic, "Kafka topic whose partition workflows are listed and signaled")
	pf.IntVar(&a.partitions, "partitions", 0, "partitions of the topic: query the workflows of partitions 0..N-1 by ID instead of listing the running ones through Temporal's visibility (0: list)")
	pf.DurationVar(&a.timeout, "timeout", DefaultTimeout, "bound of each request to S3 or Temporal; nothing is retried")
	flagenv.Bind(pf)

	root.AddCommand(a.setupCommand(), a.validateCommand(), a.statusCommand(), a.partitionsCommand(),
		a.failedCommand(), a.pauseCommand(contract.SignalPause), a.pauseCommand(contract.SignalResume),
		a.backfillCommand(), a.redriveCommand(), a.statsCommand())
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usagef("%v", err) })
	return root
}

// outputFlag adds --output to cmd.
func (a *app) outputFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "output", OutputText, "output format: text or json")
	flagenv.Bind(cmd.Flags(), "output")
}

// checkOutput validates an --output value.
func checkOutput(o string) error {
	switch o {
	case OutputText, OutputJSON:
		return nil
	}
	return usagef("--output must be %s or %s, not %q", OutputText, OutputJSON, o)
}

// required returns a usage error naming the first empty required flag.
func required(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			return usagef("--%s is required", pairs[i])
		}
	}
	return nil
}

// wrapRun makes every error of a command's run an exitError: ExitFailed unless it is
// already one.
func wrapRun(run func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := run(cmd, args)
		if err == nil {
			return nil
		}
		var ee *exitError
		if errors.As(err, &ee) {
			return ee
		}
		return failf("%v", err)
	}
}
