package defaults

import (
	"errors"
	"fmt"
	"math"
	"path"
)

// FieldError is a Config field whose value a Validate method refuses.
// Field is the Go field's path from the Config that reported it
// ("Window"); each enclosing Config prefixes its own field with Within
// ("Hub.Window"), so a caller can map the path back to where the value
// came from (cmd/gateway maps it to an environment variable).
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Errorf returns a *FieldError about field.
func Errorf(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// number is what Min and NonNegative compare (time.Duration included).
type number interface {
	~int | ~int64 | ~float64
}

// Min refuses v below least, except zero, which stands for the field's
// default.
func Min[T number](field string, v, least T) error {
	if v == 0 || v >= least {
		return nil
	}
	return Errorf(field, "must be at least %v (got %v)", least, v)
}

// NonNegative refuses v below zero (for fields where zero means off or
// none).
func NonNegative[T number](field string, v T) error {
	if v >= 0 {
		return nil
	}
	return Errorf(field, "must not be negative (got %v)", v)
}

// Finite refuses NaN and the infinities.
func Finite(field string, v float64) error {
	if !math.IsNaN(v) && !math.IsInf(v, 0) {
		return nil
	}
	return Errorf(field, "must be a finite number (got %v)", v)
}

// Required refuses an unset field.
func Required(field string, set bool) error {
	if set {
		return nil
	}
	return Errorf(field, "is required")
}

// Patterns refuses host patterns that path.Match cannot use (an
// unclosed "[", a trailing "\"), naming the entry.
func Patterns(field string, patterns []string) error {
	var errs []error
	for i, p := range patterns {
		if _, err := path.Match(p, ""); err != nil || p == "" {
			errs = append(errs, Errorf(field, "entry %d (%q) is not a valid pattern", i+1, p))
		}
	}
	return errors.Join(errs...)
}

// Within prefixes the Field of every FieldError in err (one error or a
// tree of them joined with errors.Join, as Validate returns) with
// parent and a dot. Other errors are kept as they are.
func Within(parent string, err error) error {
	if err == nil {
		return nil
	}
	if fe, ok := err.(*FieldError); ok {
		return &FieldError{Field: parent + "." + fe.Field, Msg: fe.Msg}
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Within(parent, e))
		}
		return errors.Join(out...)
	}
	return err
}

// Rename renames the FieldErrors about field from in err (a Validate
// result) to to: for a Config whose field is another package's Config
// field under another name.
func Rename(err error, from, to string) error {
	var out []error
	for _, e := range Problems(err) {
		if fe, ok := e.(*FieldError); ok && fe.Field == from {
			e = &FieldError{Field: to, Msg: fe.Msg}
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// Problems flattens err (a tree joined with errors.Join) into its leaves,
// in order: one per refused field.
func Problems(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Problems(e)...)
		}
		return out
	}
	return []error{err}
}

// Fields returns the Field of each FieldError among err's problems, in
// order (for tests and callers that map fields to their sources).
func Fields(err error) []string {
	var out []string
	for _, e := range Problems(err) {
		var fe *FieldError
		if errors.As(e, &fe) {
			out = append(out, fe.Field)
		}
	}
	return out
}
