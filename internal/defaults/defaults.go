// Package defaults applies configuration defaults and states the checks of
// the Config Validate methods. Each package owns the Default… constants of
// its Config and calls Set for every field in its New, so a zero field
// means "the default" everywhere in the same way; its Config's Validate
// refuses every out-of-range field with a FieldError naming the Go field
// (check.go), and its New calls Validate first.
package defaults

// Set stores v in *p when *p is the zero value of T.
func Set[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}
