// Package flagenv gives every command-line flag an environment fallback: a flag not set
// on the command line takes the value of BACKBEAT_<NAME>, where NAME is the flag name
// upper-cased with dashes turned into underscores (--data-dir → BACKBEAT_DATA_DIR).
// Precedence: command line, then environment, then the flag's default.
package flagenv

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// Prefix is the prefix of every environment fallback.
const Prefix = "BACKBEAT_"

// EnvName returns the environment variable that backs flag name.
func EnvName(name string) string {
	return Prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Parse parses args into fs, then sets each flag not given on the command line from its
// environment variable (looked up with lookup; os.LookupEnv when nil). It appends
// "(env NAME)" to each flag's usage so that -h shows the fallbacks.
func Parse(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) error {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(f.Usage, "(env ") {
			f.Usage += " (env " + EnvName(f.Name) + ")"
		}
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		if v, ok := lookup(EnvName(f.Name)); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("environment variable %s=%q is not a valid value for --%s: %w", EnvName(f.Name), v, f.Name, e)
			}
		}
	})
	return err
}
