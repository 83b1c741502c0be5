// Package kafkaconf sets the security of the engine's Kafka clients (ingest's producer,
// the bridge's consumer group) in one place: TLS (with a private CA and mutual TLS) and
// SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), with the same flags in every command.
package kafkaconf

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/IBM/sarama"
	"github.com/spf13/pflag"
	"github.com/xdg-go/scram"

	"github.com/backbeat-temporal/backbeat/internal/flagenv"
	"github.com/backbeat-temporal/backbeat/internal/tlsconf"
)

// SASL mechanisms (flag --kafka-sasl-mechanism).
const (
	MechanismPlain       = sarama.SASLTypePlaintext   // "PLAIN"
	MechanismSCRAMSHA256 = sarama.SASLTypeSCRAMSHA256 // "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = sarama.SASLTypeSCRAMSHA512 // "SCRAM-SHA-512"
)

// EnvSASLPassword holds the SASL password when --kafka-sasl-password-file is not given
// (a password is never a command-line flag; see package flagenv).
const EnvSASLPassword = "BACKBEAT_KAFKA_SASL_PASSWORD" // flagenv.EnvName(saslPasswordName)

// Security is how a client authenticates to Kafka and protects the connection. Its
// zero value is plain text without SASL (a local broker).
type Security struct {
	// TLS turns TLS on. Default false. Any TLSConfig field set turns it on too.
	TLS bool
	// TLSConfig is the CA bundle, client certificate and expected server name. Default:
	// the system's roots, no client certificate.
	TLSConfig tlsconf.Client
	// SASLMechanism is "" (no SASL), MechanismPlain, MechanismSCRAMSHA256 or
	// MechanismSCRAMSHA512. Default "".
	SASLMechanism string
	// SASLUser is the SASL user name. Required with a mechanism.
	SASLUser string
	// SASLPassword is the SASL password. Required with a mechanism. The commands read it
	// as a secret (flagenv.SecretVar): --kafka-sasl-password-file or EnvSASLPassword.
	SASLPassword string
}

// AddFlags defines the --kafka-tls* and --kafka-sasl-* flags, which set s (the password
// through flagenv.Parse: --kafka-sasl-password-file, else EnvSASLPassword).
func AddFlags(fs *flag.FlagSet, s *Security) {
	defineFlags(fs, s)
	flagenv.SecretVar(fs, &s.SASLPassword, saslPasswordName, "SASL password")
}

// AddPFlags is AddFlags for a cobra command's flag set: the same flags, bound to their
// environment variables (flagenv.Bind), the password read by flagenv.ApplyEnv.
func AddPFlags(fs *pflag.FlagSet, s *Security) {
	named := &namingFlagSet{flagSet: fs}
	defineFlags(named, s)
	flagenv.Bind(fs, named.names...)
	flagenv.PSecretVar(fs, &s.SASLPassword, saslPasswordName, "SASL password")
}

// namingFlagSet records the names of the flags defined through it.
type namingFlagSet struct {
	flagSet
	names []string
}

func (n *namingFlagSet) BoolVar(p *bool, name string, value bool, usage string) {
	n.flagSet.BoolVar(p, name, value, usage)
	n.names = append(n.names, name)
}

func (n *namingFlagSet) StringVar(p *string, name string, value string, usage string) {
	n.flagSet.StringVar(p, name, value, usage)
	n.names = append(n.names, name)
}

// flagSet is what defineFlags needs of a flag set: the standard library's and pflag's
// have these methods.
type flagSet interface {
	BoolVar(p *bool, name string, value bool, usage string)
	StringVar(p *string, name string, value string, usage string)
}

// defineFlags defines the Kafka security flags on fs, the password's aside.
func defineFlags(fs flagSet, s *Security) {
	fs.BoolVar(&s.TLS, "kafka-tls", false, "connect to Kafka over TLS (implied by any other --kafka-tls-* flag)")
	fs.StringVar(&s.TLSConfig.CAFile, "kafka-tls-ca", "", "PEM bundle of the CAs that sign the brokers' certificates (empty: the system's roots)")
	fs.StringVar(&s.TLSConfig.CertFile, "kafka-tls-cert", "", "PEM client certificate for mutual TLS with Kafka (with --kafka-tls-key)")
	fs.StringVar(&s.TLSConfig.KeyFile, "kafka-tls-key", "", "PEM private key file of --kafka-tls-cert")
	fs.StringVar(&s.TLSConfig.ServerName, "kafka-tls-server-name", "", "name expected in the brokers' certificates (empty: each broker's host)")
	fs.StringVar(&s.SASLMechanism, "kafka-sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: no SASL)")
	fs.StringVar(&s.SASLUser, "kafka-sasl-user", "", "SASL user name")
}

// saslPasswordName is the secret's name: --kafka-sasl-password-file, EnvSASLPassword.
const saslPasswordName = "kafka-sasl-password"

// Validate checks s: a known mechanism, with a user and a password.
func (s Security) Validate() error {
	switch s.SASLMechanism {
	case "":
		if s.SASLUser != "" {
			return errors.New("--kafka-sasl-user is set without --kafka-sasl-mechanism: add --kafka-sasl-mechanism PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
		}
		return nil
	case MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512:
	default:
		return fmt.Errorf("--kafka-sasl-mechanism %q is not supported: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.SASLMechanism)
	}
	if s.SASLUser == "" || s.SASLPassword == "" {
		return fmt.Errorf("Kafka SASL %s needs a user (--kafka-sasl-user) and a password (--kafka-sasl-password-file or %s)", s.SASLMechanism, EnvSASLPassword)
	}
	return nil
}

// Apply sets c's Net.TLS and Net.SASL from s.
func (s Security) Apply(c *sarama.Config) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if s.TLS || s.TLSConfig.Set() {
		tc, err := s.TLSConfig.Config()
		if err != nil {
			return fmt.Errorf("Kafka TLS (--kafka-tls-*): %w", err)
		}
		c.Net.TLS.Enable = true
		c.Net.TLS.Config = tc
	}
	if s.SASLMechanism == "" {
		return nil
	}
	c.Net.SASL.Enable = true
	c.Net.SASL.Handshake = true
	c.Net.SASL.Version = sarama.SASLHandshakeV1 // SaslAuthenticate requests (Kafka 1.0+)
	c.Net.SASL.User = s.SASLUser
	c.Net.SASL.Password = s.SASLPassword
	c.Net.SASL.Mechanism = sarama.SASLMechanism(s.SASLMechanism)
	switch s.SASLMechanism {
	case MechanismSCRAMSHA256:
		c.Net.SASL.SCRAMClientGeneratorFunc = newSCRAM(scram.SHA256)
	case MechanismSCRAMSHA512:
		c.Net.SASL.SCRAMClientGeneratorFunc = newSCRAM(scram.SHA512)
	}
	return nil
}

// Explain returns err with what to do when it is a TLS or SASL failure talking to
// brokers; other errors are returned as they are.
func (s Security) Explain(err error, brokers []string) error {
	if err == nil {
		return nil
	}
	t := s.TLSConfig
	t.CAFlag = "--kafka-tls-ca"
	where := "Kafka " + strings.Join(brokers, ",")
	if e := t.Explain(err, where); e != err {
		return e
	}
	switch {
	case errors.Is(err, sarama.ErrSASLAuthenticationFailed):
		return fmt.Errorf("%s refused the SASL %s credentials of user %q: check --kafka-sasl-user and the password (--kafka-sasl-password-file or %s): %w",
			where, s.SASLMechanism, s.SASLUser, EnvSASLPassword, err)
	case errors.Is(err, sarama.ErrUnsupportedSASLMechanism):
		return fmt.Errorf("%s does not offer SASL %s: pick a mechanism its listener enables (--kafka-sasl-mechanism): %w", where, s.SASLMechanism, err)
	case errors.Is(err, sarama.ErrOutOfBrokers) && s.SASLMechanism != "":
		// Some brokers (kfake among them) close the connection on bad credentials
		// instead of answering SaslAuthenticate with an error.
		return fmt.Errorf("no broker of %s accepted the connection: check that they run, the TLS setting (--kafka-tls*), and the SASL %s credentials of user %q (--kafka-sasl-user, --kafka-sasl-password-file or %s): %w",
			where, s.SASLMechanism, s.SASLUser, EnvSASLPassword, err)
	}
	return err
}
