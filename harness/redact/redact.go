package redact

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"

	"github.com/relapse-dev/relapse/harness/atomicfile"
)

// Mask replaces what was redacted.
const Mask = "REDACTED"

var (
	// userinfo is the user[:password]@ of a URL; the greedy run takes a
	// password with "@" in it whole, and stops at the host's "/", "?" or "#".
	userinfo = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s"'<>\\]+@`)
	// assignment is NAME=value, as in an environment, a shell line or a
	// docker inspect "Env" entry; the value may be quoted.
	assignment = regexp.MustCompile(`\b([A-Za-z_][A-Za-z0-9_]*)=("[^"\n]*"|'[^'\n]*'|[^\s"',;&|<>\\]*)`)
	// keyed is a credential key in YAML or JSON (kubeadm's "token:", a
	// "password" field) with its value.
	keyed = regexp.MustCompile(`(?i)((?:^|[\s{,\[-])"?(?:token|password|passwd|secret|client-key-data|authorization)"?\s*:\s*)("[^"\n]*"|[^\s,}\]\n][^,}\]\n]*)`)
)

// envCredentialWords mark an environment variable's name (upper case, as
// environments write them) as naming a credential; lowerCredentialWords
// do the same for a lower-case name, without "key", which a lower-case
// name uses for much else.
var (
	envCredentialWords   = []string{"PASSWORD", "PASSWD", "PASSPHRASE", "TOKEN", "SECRET", "KEY", "AUTH", "CREDENTIAL", "COOKIE"}
	lowerCredentialWords = []string{"password", "passwd", "passphrase", "token", "secret", "auth", "credential", "apikey", "api_key", "access_key", "private_key"}
)

// NamesCredential says whether a variable of that name holds a credential.
func NamesCredential(name string) bool {
	words, n := lowerCredentialWords, strings.ToLower(name)
	if name == strings.ToUpper(name) {
		words, n = envCredentialWords, name
	}
	for _, w := range words {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// Text is s with every credential replaced by Mask.
func Text(s string) string {
	if !strings.ContainsAny(s, "@=:") {
		return s
	}
	s = userinfo.ReplaceAllString(s, "${1}"+Mask+"@")
	s = assignment.ReplaceAllStringFunc(s, func(m string) string {
		name, value, _ := strings.Cut(m, "=")
		if !NamesCredential(name) || value == "" {
			return m
		}
		return name + "=" + quoted(value)
	})
	return keyed.ReplaceAllStringFunc(s, func(m string) string {
		sub := keyed.FindStringSubmatch(m)
		return sub[1] + quoted(sub[2])
	})
}

// quoted is Mask in the quotes value had, so JSON and shell stay valid.
func quoted(value string) string {
	if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
		return value[:1] + Mask + value[:1]
	}
	return Mask
}

// Copy returns a deep copy of v with every string redacted: struct fields,
// slice and array elements, map keys and values, through pointers and
// interfaces. v itself is not changed; unexported fields are copied as
// they are.
func Copy[T any](v T) T {
	var out T
	src := reflect.ValueOf(&v).Elem()
	reflect.ValueOf(&out).Elem().Set(clone(src))
	return out
}

func clone(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.String:
		return reflect.ValueOf(Text(v.String())).Convert(v.Type())
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(clone(v.Elem()))
		return p
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		i := reflect.New(v.Type()).Elem()
		i.Set(clone(v.Elem()))
		return i
	case reflect.Struct:
		s := reflect.New(v.Type()).Elem()
		s.Set(v)
		for i := 0; i < s.NumField(); i++ {
			if s.Field(i).CanSet() {
				s.Field(i).Set(clone(v.Field(i)))
			}
		}
		return s
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		s := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			s.Index(i).Set(clone(v.Index(i)))
		}
		return s
	case reflect.Array:
		a := reflect.New(v.Type()).Elem()
		for i := 0; i < v.Len(); i++ {
			a.Index(i).Set(clone(v.Index(i)))
		}
		return a
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		m := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			m.SetMapIndex(clone(it.Key()), clone(it.Value()))
		}
		return m
	}
	return v
}

// Files redacts every regular text file under dir in place (a file with a
// NUL byte in its first 8 KiB is binary and left as it is), keeping its
// mode. It returns the files it changed, relative to dir.
func Files(dir string) ([]string, error) {
	var changed []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("reading %s to redact it: %w", p, err)
		}
		if bytes.IndexByte(data[:min(len(data), 8192)], 0) >= 0 {
			return nil
		}
		clean := Text(string(data))
		if clean == string(data) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := atomicfile.Write(p, []byte(clean), info.Mode().Perm()); err != nil {
			return fmt.Errorf("redacting %s: %w", p, err)
		}
		rel, _ := filepath.Rel(dir, p)
		changed = append(changed, rel)
		return nil
	})
	return changed, err
}
