package strictjson

// Members walks b, which must be exactly one JSON object (whitespace
// around it allowed), and calls fn with each member's name, as it stands
// between its quotes (escapes are not decoded), and its value, in order.
// It checks b as Valid does, in the same pass: it reports false, calling
// fn no further, when b is not one valid object or when fn returns false.
// fn may have seen members before what makes b invalid: keep what it did
// only when Members reports true. It does not allocate.
func Members(b []byte, fn func(name, value []byte) bool) bool {
	p := parser{b: b}
	i := p.space(0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	if i = p.space(i + 1); i < len(b) && b[i] == '}' {
		return p.space(i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return false
		}
		end := scanString(b, i)
		if end < 0 {
			return false
		}
		name := b[i+1 : end-1]
		if i = p.space(end); i >= len(b) || b[i] != ':' {
			return false
		}
		i = p.space(i + 1)
		if end = p.value(i, 1); end < 0 || !fn(name, b[i:end]) {
			return false
		}
		var done bool
		if i, done = p.after(end, '}'); i < 0 || done {
			return done
		}
	}
}

// Elements walks b, which must be exactly one JSON array (whitespace
// around it allowed), and calls fn with each element, in order. It checks
// b as Valid does, in the same pass: it reports false, calling fn no
// further, when b is not one valid array or when fn returns false (keep
// what fn did only when Elements reports true). It does not allocate.
func Elements(b []byte, fn func(value []byte) bool) bool {
	p := parser{b: b}
	i := p.space(0)
	if i >= len(b) || b[i] != '[' {
		return false
	}
	if i = p.space(i + 1); i < len(b) && b[i] == ']' {
		return p.space(i+1) == len(b)
	}
	for {
		end := p.value(i, 1)
		if end < 0 || !fn(b[i:end]) {
			return false
		}
		var done bool
		if i, done = p.after(end, ']'); i < 0 || done {
			return done
		}
	}
}

// after parses what follows a member or element that ends before b[i]:
// a ',' (it returns the index of what comes next) or the closing bracket
// and the end of b (it returns done). It returns -1 for anything else.
func (p *parser) after(i int, closer byte) (next int, done bool) {
	b := p.b
	switch i = p.space(i); {
	case i >= len(b):
		return -1, false
	case b[i] == ',':
		return p.space(i + 1), false
	case b[i] == closer:
		if p.space(i+1) == len(b) {
			return i + 1, true
		}
	}
	return -1, false
}
