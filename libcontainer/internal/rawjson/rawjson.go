// Package rawjson adds a JSON value that is already valid and compact to
// an encoded object. encoding/json checks and compacts a RawMessage, and
// the result of every MarshalJSON, byte by byte (~60 instructions a
// byte), again at each level it is nested in: the container's config
// (2-3 KB) was scanned four times per state save and twice per message
// to init.
package rawjson

// AppendField returns obj, an encoded JSON object, with "key": raw as its
// last member. raw must be valid, compact JSON (bytes that were decoded
// or compacted before); key is a plain name that needs no escaping.
func AppendField(obj []byte, key string, raw []byte) []byte {
	if len(obj) < 2 || obj[len(obj)-1] != '}' {
		panic("rawjson: not an encoded object: " + string(obj))
	}
	out := make([]byte, 0, len(obj)+len(key)+len(raw)+4)
	out = append(out, obj[:len(obj)-1]...)
	if len(obj) > 2 {
		out = append(out, ',')
	}
	out = append(out, '"')
	out = append(out, key...)
	out = append(out, '"', ':')
	out = append(out, raw...)
	return append(out, '}')
}
