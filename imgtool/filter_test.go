package main

import "testing"

func TestRefMatch(t *testing.T) {
	for _, c := range []struct {
		pat, name string
		want      bool
	}{
		{"bb", "localhost/bb:1", true}, {"bb:1", "localhost/bb:1", true}, {"localhost/*", "localhost/bb:1", true},
		{"bb:2", "localhost/bb:1", false}, {"b*", "busybox:latest", true}, {"*", "a/b/c:d", true},
		{"lab", "reg:5000/x/lab:1", true}, {"x/lab", "reg:5000/x/lab:1", true}, {"busy", "busybox:latest", false},
	} {
		if got := refMatch(c.pat, c.name); got != c.want {
			t.Errorf("refMatch(%q, %q) = %v", c.pat, c.name, got)
		}
	}
}

func TestFiltersAndOr(t *testing.T) {
	f, err := parseFilters([]string{"name=a", "name=b", "label=k=v"}, psFilterKeys, "container")
	if err != nil || len(f["name"]) != 2 || f["label"][0] != "k=v" {
		t.Fatalf("%v %v", f, err)
	}
	has := map[string]bool{"name=b": true, "label=k=v": true}
	if !f.all(func(k, v string) bool { return has[k+"="+v] }) {
		t.Error("one value per key matched, all should hold")
	}
	delete(has, "label=k=v")
	if f.all(func(k, v string) bool { return has[k+"="+v] }) {
		t.Error("a key without a match passed")
	}
	for _, bad := range []string{"x", "=1", "nokey=1"} {
		if _, err := parseFilters([]string{bad}, psFilterKeys, "container"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if !labelMatch(map[string]string{"a": ""}, "a") || labelMatch(map[string]string{"a": "1"}, "a=2") || !labelMatch(map[string]string{"a": "1=2"}, "a=1=2") {
		t.Error("labelMatch")
	}
}
