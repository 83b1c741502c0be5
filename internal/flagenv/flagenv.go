// Package flagenv is the one configuration mechanism of every command (s3server, ingest,
// bridge, worker, devbroker on the standard flag package; starter on cobra/pflag). Two
// rules, the same everywhere:
//
//   - Environment fallback: a flag not set on the command line takes the value of
//     BACKBEAT_<NAME>, where NAME is the flag name upper-cased with dashes turned into
//     underscores (--data-dir → BACKBEAT_DATA_DIR); a variable set to "" sets "".
//     Precedence: command line, then environment, then the flag's default. Each such
//     flag's usage ends with "(env NAME)". Every flag of the engine's commands has one
//     (Parse); starter binds its connection settings (Bind), not the operands of its
//     subcommands (--bucket, --key...).
//   - Secrets are never flag values (a command line shows in ps): a secret NAME is read
//     from the file named by --NAME-file (or BACKBEAT_NAME_FILE), else from the
//     environment variable BACKBEAT_NAME. --NAME itself on the command line is refused
//     with an error that says what to use instead (see SecretVar, PSecretVar).
package flagenv

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// Prefix is the prefix of every environment fallback.
const Prefix = "BACKBEAT_"

// FileSuffix ends the name of the flag that names a secret's file (--secret-key-file).
const FileSuffix = "-file"

// EnvName returns the environment variable that backs flag name.
func EnvName(name string) string {
	return Prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Lookup finds an environment variable (os.LookupEnv's signature).
type Lookup func(string) (string, bool)

// Parse parses args into fs, then sets each flag not given on the command line from its
// environment variable (looked up with lookup; os.LookupEnv when nil), then reads the
// secrets defined with SecretVar. It appends "(env NAME)" to each flag's usage so that
// -h shows the fallbacks. A secret given as a flag (--secret-key VALUE) is an error that
// names the file flag and the environment variable to use instead.
func Parse(fs *flag.FlagSet, args []string, lookup Lookup) error {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var secrets []*secret
	fs.VisitAll(func(f *flag.Flag) {
		f.Usage = withEnv(f.Name, f.Usage)
		if s, ok := f.Value.(*secret); ok {
			secrets = append(secrets, s)
		}
	})
	if err := refuseSecretArgs(args, secrets); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if !set[f.Name] {
			errs = append(errs, fromEnv(f.Name, f.Value, lookup))
		}
	})
	return resolve(errors.Join(errs...), secrets, lookup)
}

// Bind gives the named flags of fs (every flag of fs when no name is given) their
// environment fallback, under the same naming as Parse, and appends "(env NAME)" to
// their usage. A cobra command calls it once its flags are defined, so that --help shows
// the fallbacks; ApplyEnv then sets them. It panics on a name fs does not define (a
// programming error).
func Bind(fs *pflag.FlagSet, names ...string) {
	bind := func(f *pflag.Flag) {
		f.Usage = withEnv(f.Name, f.Usage)
		if err := fs.SetAnnotation(f.Name, annotation, []string{EnvName(f.Name)}); err != nil {
			panic(err)
		}
	}
	if len(names) == 0 {
		fs.VisitAll(bind)
		return
	}
	for _, n := range names {
		f := fs.Lookup(n)
		if f == nil {
			panic("flagenv.Bind: no flag --" + n)
		}
		bind(f)
	}
}

// annotation is the pflag annotation of a flag bound to its environment variable.
const annotation = "flagenv"

// ApplyEnv is Parse for a pflag set cobra has already parsed: it sets each flag bound
// with Bind and not given on the command line from its environment variable (lookup;
// os.LookupEnv when nil), then reads the secrets defined with PSecretVar. A secret given
// as a flag is refused before, by CheckArgs.
func ApplyEnv(fs *pflag.FlagSet, lookup Lookup) error {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var errs []error
	var secrets []*secret
	fs.VisitAll(func(f *pflag.Flag) {
		if s, ok := f.Value.(*secret); ok {
			secrets = append(secrets, s)
		}
		if _, bound := f.Annotations[annotation]; bound && !f.Changed {
			errs = append(errs, fromEnv(f.Name, f.Value, lookup))
		}
	})
	return resolve(errors.Join(errs...), secrets, lookup)
}

// CheckArgs returns the error of Parse for a secret given as a flag in args (--NAME,
// -NAME, --NAME=VALUE) when fs defines NAME with PSecretVar; nil otherwise. A cobra
// command calls it on the raw arguments before cobra parses them, so that the answer is
// "use --NAME-file or BACKBEAT_NAME", not "unknown flag".
func CheckArgs(fs *pflag.FlagSet, args []string) error {
	var secrets []*secret
	fs.VisitAll(func(f *pflag.Flag) {
		if s, ok := f.Value.(*secret); ok {
			secrets = append(secrets, s)
		}
	})
	return refuseSecretArgs(args, secrets)
}

// SecretVar defines the secret name on fs: the flag --NAME-file names a file holding it
// (one line; trailing newline ignored), and BACKBEAT_NAME holds it when no file is given.
// Parse stores the secret in *p (left as it is when neither is set). what describes the
// secret ("secret key of s3server's replication identity").
func SecretVar(fs *flag.FlagSet, p *string, name, what string) {
	s := &secret{name: name, value: p}
	fs.Var(s, name+FileSuffix, s.usage(what))
}

// PSecretVar is SecretVar for a pflag set; ApplyEnv stores the secret in *p. The
// --NAME-file flag is bound to its environment variable (Bind).
func PSecretVar(fs *pflag.FlagSet, p *string, name, what string) {
	s := &secret{name: name, value: p}
	fs.Var(s, name+FileSuffix, s.usage(what))
	Bind(fs, name+FileSuffix)
}

// ReadSecretFile returns the first line of the file at path (trailing CR/LF dropped):
// how every command reads a secret's file.
func ReadSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the secret's file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// withEnv appends "(env NAME)" to usage unless it already names one.
func withEnv(name, usage string) string {
	if strings.Contains(usage, "(env ") {
		return usage
	}
	return usage + " (env " + EnvName(name) + ")"
}

// fromEnv sets v from the environment variable of flag name, when that is set.
func fromEnv(name string, v flag.Value, lookup Lookup) error {
	s, ok := lookup(EnvName(name))
	if !ok {
		return nil
	}
	if err := v.Set(s); err != nil {
		return fmt.Errorf("environment variable %s=%q is not a valid value for --%s: %w", EnvName(name), s, name, err)
	}
	return nil
}

// secret is the value of a --NAME-file flag: the file's path, and where the secret goes.
type secret struct {
	name  string
	file  string
	value *string
}

func (s *secret) String() string {
	if s == nil {
		return ""
	}
	return s.file
}

func (s *secret) Set(path string) error { s.file = path; return nil }

// Type is pflag's name of the value type, shown in --help.
func (s *secret) Type() string { return "string" }

func (s *secret) usage(what string) string {
	return "file holding the " + what + " (empty: the environment variable " + EnvName(s.name) +
		"; never a flag value, which ps would show)"
}

// resolve reads each secret (file, else environment) unless err is already set.
func resolve(err error, secrets []*secret, lookup Lookup) error {
	if err != nil {
		return err
	}
	for _, s := range secrets {
		if s.file != "" {
			v, err := ReadSecretFile(s.file)
			if err != nil {
				return fmt.Errorf("--%s%s %s: %w", s.name, FileSuffix, s.file, err)
			}
			*s.value = v
			continue
		}
		if v, ok := lookup(EnvName(s.name)); ok {
			*s.value = v
		}
	}
	return nil
}

// refuseSecretArgs returns an error for the first secret of secrets given as a flag in
// args (up to a "--" terminator).
func refuseSecretArgs(args []string, secrets []*secret) error {
	for _, a := range args {
		if a == "--" {
			return nil
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		name, _, _ = strings.Cut(name, "=")
		for _, s := range secrets {
			if name == s.name {
				return fmt.Errorf("--%s is not accepted: a secret on the command line shows in ps; put it in a file and give --%s%s FILE, or set the environment variable %s",
					s.name, s.name, FileSuffix, EnvName(s.name))
			}
		}
	}
	return nil
}
