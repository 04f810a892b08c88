package main

import (
	"fmt"
	"strings"
	"testing"
)

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

func TestExpandPortRangesRandomHost(t *testing.T) {
	out, err := expandPortRanges([]string{"80", "127.0.0.1::53/udp", "8000-8001", "1:2"})
	if err != nil || len(out) != 5 {
		t.Fatalf("%v %v", out, err)
	}
	var hp int
	var rest string
	if n, _ := fmt.Sscanf(out[0], "%d:%s", &hp, &rest); n != 2 || hp <= 0 || rest != "80" {
		t.Errorf("-p 80: %q", out[0])
	}
	if !strings.HasPrefix(out[1], "127.0.0.1:") || !strings.HasSuffix(out[1], ":53/udp") || out[1] == "127.0.0.1::53/udp" {
		t.Errorf("-p 127.0.0.1::53/udp: %q", out[1])
	}
	if !strings.HasSuffix(out[2], ":8000") || !strings.HasSuffix(out[3], ":8001") || out[4] != "1:2" {
		t.Errorf("ranges: %q", out)
	}
	if _, err := expandPortRanges([]string{"0"}); err == nil {
		t.Error("-p 0 accepted")
	}
}
