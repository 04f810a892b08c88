package main

import (
	"strings"
	"testing"
)

// Two runs in ginkgo's JSON report shape: suite-level nodes are not specs,
// a failed BeforeSuite counts as a failure.
const myrunReport = `[{"SpecReports":[
 {"LeafNodeType":"BeforeSuite","State":"passed"},
 {"ContainerHierarchyTexts":["[k8s.io] Container"],"LeafNodeText":"runs","LeafNodeType":"It","State":"passed"},
 {"ContainerHierarchyTexts":["[k8s.io] Container"],"LeafNodeText":"execs","LeafNodeType":"It","State":"failed","Failure":{"Message":"exec failed\nmore"}},
 {"ContainerHierarchyTexts":["[k8s.io] Image"],"LeafNodeText":"digest","LeafNodeType":"It","State":"failed","Failure":{"Message":"not found"}},
 {"ContainerHierarchyTexts":["[k8s.io] Security"],"LeafNodeText":"apparmor","LeafNodeType":"It","State":"skipped"},
 {"ContainerHierarchyTexts":["[k8s.io] Net"],"LeafNodeText":"dns","LeafNodeType":"It","State":"timedout","Failure":{"Message":"timeout"}}
]}]`

const runcReport = `[{"SpecReports":[
 {"ContainerHierarchyTexts":["[k8s.io] Container"],"LeafNodeText":"runs","LeafNodeType":"It","State":"passed"},
 {"ContainerHierarchyTexts":["[k8s.io] Container"],"LeafNodeText":"execs","LeafNodeType":"It","State":"passed"},
 {"ContainerHierarchyTexts":["[k8s.io] Image"],"LeafNodeText":"digest","LeafNodeType":"It","State":"failed","Failure":{"Message":"not found"}},
 {"ContainerHierarchyTexts":["[k8s.io] Security"],"LeafNodeText":"apparmor","LeafNodeType":"It","State":"skipped"},
 {"ContainerHierarchyTexts":["[k8s.io] Net"],"LeafNodeText":"dns","LeafNodeType":"It","State":"skipped"},
 {"LeafNodeType":"AfterSuite","State":"failed","Failure":{"Message":"cleanup"}}
]}]`

func TestParseAndCompare(t *testing.T) {
	m, err := parse("myrun", strings.NewReader(myrunReport))
	if err != nil {
		t.Fatal(err)
	}
	r, err := parse("runc", strings.NewReader(runcReport))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.summary(), "critest: 1 passed, 3 failed, 1 skipped"; got != want {
		t.Errorf("myrun summary %q, want %q", got, want)
	}
	if got, want := r.summary(), "critest: 2 passed, 2 failed, 2 skipped"; got != want {
		t.Errorf("runc summary %q, want %q", got, want)
	}
	reg, both := compare(m, r)
	if len(reg) != 1 || reg[0] != "[k8s.io] Container execs" {
		t.Errorf("regressions %q, want the exec spec only (dns was skipped for runc)", reg)
	}
	if len(both) != 1 || both[0] != "[k8s.io] Image digest" {
		t.Errorf("both-fail %q", both)
	}
	if m.Message["[k8s.io] Container execs"] != "exec failed" {
		t.Errorf("message %q: want its first line", m.Message["[k8s.io] Container execs"])
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	if _, err := parse("x", strings.NewReader("Ran 3 of 5 specs")); err == nil {
		t.Fatal("a non-JSON report parsed")
	}
}

func TestList(t *testing.T) {
	const rep = `[{"SpecReports":[
 {"LeafNodeType":"BeforeSuite","State":"passed"},
 {"ContainerHierarchyTexts":["[k8s.io] Container"],"LeafNodeText":"runs","LeafNodeType":"It","State":"passed"},
 {"ContainerHierarchyTexts":["[k8s.io] Container"],"LeafNodeText":"execs","LeafNodeType":"It","State":"failed","Failure":{"Message":"exec failed\nmore"}},
 {"ContainerHierarchyTexts":["[k8s.io] Security"],"LeafNodeText":"apparmor","LeafNodeType":"It","State":"skipped","Failure":{"Message":"no apparmor"}},
 {"ContainerHierarchyTexts":["[k8s.io] Net"],"LeafNodeText":"dns","LeafNodeType":"It","State":"skipped"}
]}]`
	r, err := parse("myrun", strings.NewReader(rep))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	r.list(&b)
	want := "--- FAIL: [k8s.io] Container execs: exec failed\n" +
		"--- PASS: [k8s.io] Container runs\n" +
		"--- SKIP: [k8s.io] Security apparmor: no apparmor\n" +
		"critest: 1 passed, 1 failed, 2 skipped\n"
	if b.String() != want {
		t.Errorf("list:\n%s\nwant:\n%s", b.String(), want)
	}
}
