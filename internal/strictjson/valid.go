package strictjson

// This file holds a single-pass JSON validator and compactor that accepts
// exactly what encoding/json's scanner accepts (json.Valid) and writes
// exactly what json.Compact writes, without the scanner's call through a
// function pointer for every byte.
//
// What encoding/json does, and this file matches:
//   - it does not check UTF-8: any byte >= 0x80 may appear in a string;
//   - a string may not hold a byte < 0x20; the escapes are \" \\ \/ \b \f
//     \n \r \t and \u with four hex digits of either case (a lone or
//     mismatched surrogate such as \ud800 is accepted);
//   - whitespace is exactly ' ', '\t', '\r' and '\n';
//   - objects and arrays nest at most maxDepth deep, counted together;
//   - Compact only removes whitespace outside strings: it copies every
//     other byte as it is and does not escape '<', '>', '&', U+2028 or
//     U+2029 (only HTMLEscape, and Compact's internal escape mode, which
//     json.Compact does not use, do).

// maxDepth is encoding/json's maxNestingDepth: an object or array opened
// when maxDepth objects and arrays are already open makes the input
// invalid.
const maxDepth = 10000

// Byte classes, as bits of class.
const (
	clPlain = 1 << iota // a string holds it as itself: not '"', '\\' or < 0x20
	clDigit             // '0'-'9'
	clHex               // '0'-'9', 'a'-'f', 'A'-'F'
)

var class = func() (t [256]uint8) {
	for i := range t {
		c := byte(i)
		if c >= 0x20 && c != '"' && c != '\\' {
			t[i] |= clPlain
		}
		if '0' <= c && c <= '9' {
			t[i] |= clDigit | clHex
		}
		if 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' {
			t[i] |= clHex
		}
	}
	return t
}()

// Valid reports whether b is one valid JSON value, with optional
// whitespace around it, exactly as json.Valid does: same grammar, same
// nesting limit, and, like json.Valid, no check that strings hold valid
// UTF-8. It does not allocate.
func Valid(b []byte) bool {
	p := parser{b: b}
	return p.document()
}

// AppendCompact appends src to dst with insignificant whitespace removed,
// byte for byte as json.Compact writes it: strings are copied unchanged
// and nothing is escaped. It reports whether src is valid (see Valid);
// when it is not, it returns dst as it was passed in (its length
// unchanged, though bytes of its spare capacity may have been written),
// just as json.Compact leaves its buffer. It allocates only to grow dst.
func AppendCompact(dst, src []byte) ([]byte, bool) {
	p := parser{b: src, dst: dst, compact: true}
	if !p.document() {
		return dst, false
	}
	return p.dst, true
}

// parser holds the state of one pass over b. When compact is set, the
// bytes of b before start, less its whitespace outside strings, have been
// appended to dst; the rest are still to be copied.
type parser struct {
	b       []byte
	dst     []byte
	start   int
	compact bool
}

// document parses all of p.b as one value with optional whitespace
// around it and, when compacting, copies what remains of it to p.dst.
func (p *parser) document() bool {
	i := p.value(p.space(0), 0)
	if i < 0 || p.space(i) != len(p.b) {
		return false
	}
	if p.compact {
		p.dst = append(p.dst, p.b[p.start:]...)
	}
	return true
}

// space returns the index of the first byte at or after b[i] that is not
// whitespace.
func (p *parser) space(i int) int {
	if i < len(p.b) && p.b[i] > ' ' {
		return i
	}
	return p.skipSpace(i)
}

// skipSpace is space's slow path. When compacting, it copies the pending
// bytes before a run of whitespace to dst and drops the run. It is not
// inlined, so that space is.
//
//go:noinline
func (p *parser) skipSpace(i int) int {
	b := p.b
	j := i
	for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\n' || b[j] == '\r') {
		j++
	}
	if p.compact && j > i {
		p.dst = append(p.dst, b[p.start:i]...)
		p.start = j
	}
	return j
}

// value parses the value that starts at b[i], inside depth open objects
// and arrays, and returns the index after it, or -1 if it is not valid.
// It nests iteratively, recording in one bit per level whether that
// level is an object, for up to 64 levels; a value nested deeper is
// parsed by a call of its own, so the recursion is at most maxDepth/64
// calls deep and nothing is allocated.
func (p *parser) value(i, depth int) int {
	b := p.b
	var objects uint64 // bit k-1: level k of this call is an object
	level := 0
	for {
		if i >= len(b) {
			return -1
		}
		switch c := b[i]; c {
		case '{', '[':
			if level == 64 {
				i = p.value(i, depth+level)
				break
			}
			if depth+level >= maxDepth {
				return -1
			}
			var empty bool
			if i, empty = p.open(i); empty {
				break
			}
			if i < 0 {
				return -1
			}
			level++
			if c == '{' {
				objects |= 1 << uint(level-1)
			} else {
				objects &^= 1 << uint(level-1)
			}
			continue
		case '"':
			i = scanString(b, i)
		default:
			i = scalar(b, i)
		}
		if i, level = p.next(i, level, objects); i < 0 || level == 0 {
			return i
		}
	}
}

// next parses what follows a value that ends before b[i], inside level
// open objects and arrays of one call of value (bit k-1 of objects tells
// whether level k is an object): the closing brackets of the values it
// ends, then the ',' and, in an object, the member name before the next
// value. It returns the index of the next value (whitespace skipped) and
// the level it is at; or level 0 when the outermost value has ended; or
// index -1 when what follows is not valid.
func (p *parser) next(i, level int, objects uint64) (int, int) {
	b := p.b
	for i >= 0 && level > 0 {
		i = p.space(i)
		if i >= len(b) {
			return -1, level
		}
		object := objects>>uint(level-1)&1 == 1
		switch b[i] {
		case ',':
			i = p.space(i + 1)
			if object {
				i = p.key(i)
			}
			return i, level
		case '}', ']':
			if object != (b[i] == '}') {
				return -1, level
			}
			i++
			level--
		default:
			return -1, level
		}
	}
	return i, level
}

// open parses the '{' or '[' at b[i] and the whitespace after it. For
// an empty object or array it returns the index after its closing bracket
// and true; else the index of the first element, or of the first member's
// value, or -1 if the first member's name is not valid.
func (p *parser) open(i int) (int, bool) {
	b := p.b
	closer := byte(']')
	if b[i] == '{' {
		closer = '}'
	}
	i = p.space(i + 1)
	if i < len(b) && b[i] == closer {
		return i + 1, true
	}
	if closer == '}' {
		return p.key(i), false
	}
	return i, false
}

// key parses an object member's name at b[i] and the ':' after it, and
// returns the index of the member's value (whitespace skipped), or -1.
func (p *parser) key(i int) int {
	b := p.b
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = scanString(b, i); i < 0 {
		return -1
	}
	if i = p.space(i); i >= len(b) || b[i] != ':' {
		return -1
	}
	return p.space(i + 1)
}

// scalar parses the string, number or literal that starts at b[i] and
// returns the index after it, or -1 if there is none.
func scalar(b []byte, i int) int {
	switch b[i] {
	case '"':
		return scanString(b, i)
	case 't':
		return literal(b, i, "true")
	case 'f':
		return literal(b, i, "false")
	case 'n':
		return literal(b, i, "null")
	}
	return scanNumber(b, i)
}

// literal returns the index after lit if b holds it at i, else -1.
func literal(b []byte, i int, lit string) int {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit)
	}
	return -1
}

// scanString returns the index after the string whose opening quote is
// b[i], or -1 if it is not a valid string. It checks escapes and refuses
// control characters but, as encoding/json, not UTF-8.
func scanString(b []byte, i int) int {
	i++
	for {
		for i < len(b) && class[b[i]]&clPlain != 0 {
			i++
		}
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			i++
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if len(b)-i <= 4 || class[b[i+1]]&class[b[i+2]]&class[b[i+3]]&class[b[i+4]]&clHex == 0 {
					return -1
				}
				i += 5
			default:
				return -1
			}
		default: // a control character
			return -1
		}
	}
}

// scanNumber returns the index after the number that starts at b[i], or
// -1 if there is none: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
// A byte after the number that cannot follow it (as in "01") is left to
// the caller, which finds no ',', closing bracket or end there.
func scanNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
		if i >= len(b) {
			return -1
		}
	}
	switch {
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if i++; i >= len(b) || class[b[i]]&clDigit == 0 {
			return -1
		}
		i = digits(b, i+1)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || class[b[i]]&clDigit == 0 {
			return -1
		}
		i = digits(b, i+1)
	}
	return i
}

// digits returns the index of the first byte at or after b[i] that is not
// a decimal digit.
func digits(b []byte, i int) int {
	for i < len(b) && class[b[i]]&clDigit != 0 {
		i++
	}
	return i
}
