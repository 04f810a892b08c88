package rpc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Protobuf wire types used by proto2 scalars and messages.
const (
	wireVarint = 0
	wireI64    = 1
	wireLen    = 2
	wireI32    = 5
)

// Marshal encodes m, a pointer to one of this package's message structs,
// in protobuf's binary form: fields in field-number order (the order of
// the struct), unset optional fields left out, as protobuf-go does; an
// unset required field is an error naming it.
func Marshal(m any) ([]byte, error) {
	v := reflect.ValueOf(m)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("rpc: cannot marshal %T", m)
	}
	return appendMessage(nil, v.Elem())
}

// Unmarshal decodes b into m, a pointer to one of this package's message
// structs. Fields m does not have are skipped, as protobuf does with
// fields it does not know; a known field in the wrong wire type is an
// error naming it.
func Unmarshal(b []byte, m any) error {
	v := reflect.ValueOf(m)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("rpc: cannot unmarshal into %T", m)
	}
	return decodeMessage(b, v.Elem())
}

// fieldNum is a field's number, from its `pb:"N"` or `pb:"N,req"` tag.
func fieldNum(f reflect.StructField) uint64 {
	num, _, _ := strings.Cut(f.Tag.Get("pb"), ",")
	n, err := strconv.ParseUint(num, 10, 29)
	if err != nil || n == 0 {
		panic("rpc: field " + f.Name + " has no valid pb tag")
	}
	return n
}

// required tells whether rpc.proto declares the field `required`:
// protobuf refuses to encode a message without it, and so do we.
func required(f reflect.StructField) bool {
	_, opt, _ := strings.Cut(f.Tag.Get("pb"), ",")
	return opt == "req"
}

func appendKey(b []byte, num uint64, wire uint64) []byte {
	return binary.AppendUvarint(b, num<<3|wire)
}

func appendMessage(b []byte, v reflect.Value) ([]byte, error) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		num := fieldNum(sf)
		f := v.Field(i)
		if f.IsNil() {
			if required(sf) {
				return nil, fmt.Errorf("rpc: %s.%s: required field not set", t.Name(), sf.Name)
			}
			continue
		}
		var err error
		if f.Kind() == reflect.Slice {
			for j := 0; j < f.Len() && err == nil; j++ {
				b, err = appendValue(b, num, f.Index(j), sf.Name)
			}
		} else {
			b, err = appendValue(b, num, f, sf.Name)
		}
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

// appendValue encodes one value of field num: a pointer to a scalar or a
// message, or a string (an element of a repeated string).
func appendValue(b []byte, num uint64, f reflect.Value, name string) ([]byte, error) {
	if f.Kind() == reflect.String {
		b = appendKey(b, num, wireLen)
		b = binary.AppendUvarint(b, uint64(f.Len()))
		return append(b, f.String()...), nil
	}
	if f.Kind() != reflect.Pointer || f.IsNil() {
		return nil, fmt.Errorf("rpc: %s: nil or unsupported value", name)
	}
	e := f.Elem()
	switch e.Kind() {
	case reflect.Bool:
		b = appendKey(b, num, wireVarint)
		if e.Bool() {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case reflect.Int32:
		// int32 and enums: negative values as their 64-bit two's complement.
		b = appendKey(b, num, wireVarint)
		return binary.AppendUvarint(b, uint64(e.Int())), nil
	case reflect.Uint32:
		b = appendKey(b, num, wireVarint)
		return binary.AppendUvarint(b, e.Uint()), nil
	case reflect.String:
		b = appendKey(b, num, wireLen)
		b = binary.AppendUvarint(b, uint64(e.Len()))
		return append(b, e.String()...), nil
	case reflect.Struct:
		sub, err := appendMessage(nil, e)
		if err != nil {
			return nil, err
		}
		b = appendKey(b, num, wireLen)
		b = binary.AppendUvarint(b, uint64(len(sub)))
		return append(b, sub...), nil
	}
	return nil, fmt.Errorf("rpc: %s: unsupported type %s", name, e.Type())
}

var errTruncated = errors.New("rpc: truncated message")

func decodeMessage(b []byte, v reflect.Value) error {
	t := v.Type()
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return errTruncated
		}
		b = b[n:]
		num, wire := key>>3, key&7
		if num == 0 {
			return errors.New("rpc: field number 0")
		}
		var x uint64
		var data []byte
		switch wire {
		case wireVarint:
			x, n = binary.Uvarint(b)
			if n <= 0 {
				return errTruncated
			}
			b = b[n:]
		case wireI64, wireI32:
			w := 8
			if wire == wireI32 {
				w = 4
			}
			if len(b) < w {
				return errTruncated
			}
			b = b[w:]
		case wireLen:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return errTruncated
			}
			data, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return fmt.Errorf("rpc: %s: field %d: unsupported wire type %d", t.Name(), num, wire)
		}
		i := fieldIndex(t, num)
		if i < 0 {
			continue
		}
		if err := setField(v.Field(i), wire, x, data); err != nil {
			return fmt.Errorf("rpc: %s.%s: %w", t.Name(), t.Field(i).Name, err)
		}
	}
	return nil
}

func fieldIndex(t reflect.Type, num uint64) int {
	for i := 0; i < t.NumField(); i++ {
		if fieldNum(t.Field(i)) == num {
			return i
		}
	}
	return -1
}

func setField(f reflect.Value, wire, x uint64, data []byte) error {
	if f.Kind() == reflect.Slice {
		et := f.Type().Elem()
		if et.Kind() == reflect.String {
			if wire != wireLen {
				return errWire(wire)
			}
			f.Set(reflect.Append(f, reflect.ValueOf(string(data)).Convert(et)))
			return nil
		}
		ev := reflect.New(et.Elem())
		if err := setElem(ev.Elem(), wire, x, data); err != nil {
			return err
		}
		f.Set(reflect.Append(f, ev))
		return nil
	}
	// A message field seen twice merges, as in protobuf; a scalar's last
	// value wins.
	if f.IsNil() || f.Type().Elem().Kind() != reflect.Struct {
		f.Set(reflect.New(f.Type().Elem()))
	}
	return setElem(f.Elem(), wire, x, data)
}

func setElem(e reflect.Value, wire, x uint64, data []byte) error {
	want := uint64(wireVarint)
	if k := e.Kind(); k == reflect.String || k == reflect.Struct {
		want = wireLen
	}
	if wire != want {
		return errWire(wire)
	}
	switch e.Kind() {
	case reflect.Bool:
		e.SetBool(x != 0)
	case reflect.Int32:
		e.SetInt(int64(int32(x)))
	case reflect.Uint32:
		e.SetUint(uint64(uint32(x)))
	case reflect.String:
		e.SetString(string(data))
	case reflect.Struct:
		return decodeMessage(data, e)
	default:
		return fmt.Errorf("unsupported type %s", e.Type())
	}
	return nil
}

func errWire(wire uint64) error { return fmt.Errorf("unexpected wire type %d", wire) }
