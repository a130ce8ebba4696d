// Package defaults applies configuration defaults. Each package owns the
// Default… constants of its Config and calls Set for every field in its New,
// so a zero field means "the default" everywhere in the same way.
package defaults

// Set stores v in *p when *p is the zero value of T.
func Set[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}
