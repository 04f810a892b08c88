package rawjson

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestAppendField(t *testing.T) {
	for obj, want := range map[string]string{
		`{}`:         `{"config":{"a":[1,"<x>"]}}`,
		`{"id":"c"}`: `{"id":"c","config":{"a":[1,"<x>"]}}`,
	} {
		got := AppendField([]byte(obj), "config", []byte(`{"a":[1,"<x>"]}`))
		if string(got) != want {
			t.Errorf("AppendField(%s) = %s, want %s", obj, got, want)
		}
		var a, b any
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(want), &b); err != nil || !reflect.DeepEqual(a, b) {
			t.Errorf("%s: decodes to %v, want %v", got, a, b)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("AppendField of a non-object did not panic")
		}
	}()
	AppendField([]byte(`[1]`), "k", []byte(`1`))
}
