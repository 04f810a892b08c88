//go:build ignore

// Command rcvalidate checks a Kubernetes RuntimeClass manifest offline, as
// the API server would: strict decoding into node.k8s.io/v1 RuntimeClass
// (unknown or misspelt fields are errors) and the checks of Kubernetes'
// RuntimeClass validation (name a DNS subdomain, handler a DNS label,
// nodeSelector keys and values valid labels, tolerations well formed,
// overhead quantities non-negative). `kubectl --dry-run=client` cannot do
// this here: it needs the API server's discovery even for client dry runs.
//
// It is not part of our module (the build tag keeps it out): build.sh
// builds it inside the cri-tools module copy, whose go.sum already pins
// k8s.io/api and k8s.io/apimachinery.
//
//	rcvalidate FILE...
package main

import (
	"bytes"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

func check(data []byte) []string {
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	var rc nodev1.RuntimeClass
	if err := yaml.UnmarshalStrict(data, &rc); err != nil {
		return []string{err.Error()}
	}
	if rc.APIVersion != "node.k8s.io/v1" || rc.Kind != "RuntimeClass" {
		add("apiVersion/kind: got %s %s, want node.k8s.io/v1 RuntimeClass", rc.APIVersion, rc.Kind)
	}
	for _, m := range validation.IsDNS1123Subdomain(rc.Name) {
		add("metadata.name %q: %s", rc.Name, m)
	}
	for _, m := range validation.IsDNS1123Label(rc.Handler) {
		add("handler %q: %s", rc.Handler, m)
	}
	if o := rc.Overhead; o != nil {
		for name, q := range o.PodFixed {
			if q.Sign() < 0 {
				add("overhead.podFixed[%s]: must be non-negative", name)
			}
		}
	}
	if s := rc.Scheduling; s != nil {
		for k, v := range s.NodeSelector {
			for _, m := range validation.IsQualifiedName(k) {
				add("scheduling.nodeSelector key %q: %s", k, m)
			}
			for _, m := range validation.IsValidLabelValue(v) {
				add("scheduling.nodeSelector[%s] value %q: %s", k, v, m)
			}
		}
		for i, t := range s.Tolerations {
			if t.Key != "" {
				for _, m := range validation.IsQualifiedName(t.Key) {
					add("scheduling.tolerations[%d].key %q: %s", i, t.Key, m)
				}
			}
			switch t.Operator {
			case "", corev1.TolerationOpEqual, corev1.TolerationOpExists:
			default:
				add("scheduling.tolerations[%d].operator %q: want Equal or Exists", i, t.Operator)
			}
			if t.Operator == corev1.TolerationOpExists && t.Value != "" {
				add("scheduling.tolerations[%d].value: must be empty with operator Exists", i)
			}
			switch t.Effect {
			case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
			default:
				add("scheduling.tolerations[%d].effect %q: unknown", i, t.Effect)
			}
		}
	}
	return errs
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: rcvalidate FILE...")
		os.Exit(2)
	}
	bad := false
	for _, f := range os.Args[1:] {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		// One document per file; a `---` separator would hide a second one.
		if bytes.Contains(data, []byte("\n---")) {
			fmt.Printf("%s: more than one YAML document\n", f)
			bad = true
			continue
		}
		errs := check(data)
		for _, e := range errs {
			fmt.Printf("%s: %s\n", f, e)
		}
		if len(errs) > 0 {
			bad = true
		} else {
			fmt.Printf("%s: valid node.k8s.io/v1 RuntimeClass\n", f)
		}
	}
	if bad {
		os.Exit(1)
	}
}
