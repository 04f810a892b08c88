package rpc

import (
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"testing"

	gorpc "github.com/checkpoint-restore/go-criu/v7/rpc"
	"google.golang.org/protobuf/proto"
)

// Pairs of our message types and go-criu's generated ones (rpc.proto).
var pairs = []struct{ ours, gen any }{
	{CriuReq{}, gorpc.CriuReq{}},
	{CriuOpts{}, gorpc.CriuOpts{}},
	{CriuPageServerInfo{}, gorpc.CriuPageServerInfo{}},
	{ExtMountMap{}, gorpc.ExtMountMap{}},
	{JoinNamespace{}, gorpc.JoinNamespace{}},
	{InheritFd{}, gorpc.InheritFd{}},
	{CgroupRoot{}, gorpc.CgroupRoot{}},
	{CriuResp{}, gorpc.CriuResp{}},
	{CriuDumpResp{}, gorpc.CriuDumpResp{}},
	{CriuRestoreResp{}, gorpc.CriuRestoreResp{}},
	{CriuNotify{}, gorpc.CriuNotify{}},
	{CriuVersion{}, gorpc.CriuVersion{}},
}

// Every field has the generated field's number and a type of the same
// shape: a swapped number between two bools would pass a value check.
func TestFieldTable(t *testing.T) {
	for _, p := range pairs {
		ot, gt := reflect.TypeOf(p.ours), reflect.TypeOf(p.gen)
		for i := 0; i < ot.NumField(); i++ {
			of := ot.Field(i)
			gf, ok := gt.FieldByName(of.Name)
			if !ok {
				t.Errorf("%s.%s: not in go-criu's %s", ot.Name(), of.Name, gt.Name())
				continue
			}
			// protobuf:"varint,2,opt,name=pid"
			tag := strings.Split(gf.Tag.Get("protobuf"), ",")
			if len(tag) < 3 || tag[1] != strconv.FormatUint(fieldNum(of), 10) || (tag[2] == "req") != required(of) {
				t.Errorf("%s.%s: tag %q, rpc.proto says %v", ot.Name(), of.Name, of.Tag.Get("pb"), tag)
			}
			if shape(of.Type) != shape(gf.Type) {
				t.Errorf("%s.%s: type %s, generated %s", ot.Name(), of.Name, of.Type, gf.Type)
			}
			if i > 0 && fieldNum(of) <= fieldNum(ot.Field(i-1)) {
				t.Errorf("%s.%s: fields out of number order", ot.Name(), of.Name)
			}
		}
	}
}

func shape(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice:
		return t.Kind().String() + " " + shape(t.Elem())
	case reflect.Struct:
		return "message " + t.Name()
	}
	return t.Kind().String()
}

func TestEnums(t *testing.T) {
	for v, name := range gorpc.CriuReqType_name {
		if got := CriuReqType(v).String(); got != name {
			t.Errorf("CriuReqType %d: %q, rpc.proto %q", v, got, name)
		}
	}
	if len(gorpc.CriuReqType_name) != len(reqTypeNames) {
		t.Errorf("%d request types, rpc.proto has %d", len(reqTypeNames), len(gorpc.CriuReqType_name))
	}
	for v, name := range gorpc.CriuCgMode_name {
		if got := CriuCgMode(v).String(); got != name {
			t.Errorf("CriuCgMode %d: %q, rpc.proto %q", v, got, name)
		}
	}
	if CriuReqType_SINGLE_PRE_DUMP != CriuReqType(gorpc.CriuReqType_SINGLE_PRE_DUMP) || CriuCgMode_DEFAULT != CriuCgMode(gorpc.CriuCgMode_DEFAULT) ||
		CriuReqType_NOTIFY != CriuReqType(gorpc.CriuReqType_NOTIFY) || CriuCgMode_STRICT != CriuCgMode(gorpc.CriuCgMode_STRICT) {
		t.Error("enum constants differ from rpc.proto")
	}
	if CriuReqType(99).String() != "99" {
		t.Errorf("unknown type: %q", CriuReqType(99).String())
	}
}

// fill sets every field of the message v points to, with values that
// differ per field (negative int32s included: they take 10 bytes), two
// elements per repeated field.
func fill(v reflect.Value, seed *int) {
	e := v.Elem()
	for i := 0; i < e.NumField(); i++ {
		f := e.Field(i)
		*seed++
		switch f.Kind() {
		case reflect.Slice:
			for j := 0; j < 2; j++ {
				*seed++
				if f.Type().Elem().Kind() == reflect.String {
					f.Set(reflect.Append(f, reflect.ValueOf("s"+strconv.Itoa(*seed))))
					continue
				}
				m := reflect.New(f.Type().Elem().Elem())
				fill(m, seed)
				f.Set(reflect.Append(f, m))
			}
		case reflect.Pointer:
			p := reflect.New(f.Type().Elem())
			switch p.Elem().Kind() {
			case reflect.Bool:
				p.Elem().SetBool(*seed%3 != 0) // false is sent too
			case reflect.Int32:
				n := int64(*seed * 1000)
				if *seed%2 == 0 {
					n = -n
				}
				p.Elem().SetInt(n)
			case reflect.Uint32:
				p.Elem().SetUint(uint64(*seed) << 24)
			case reflect.String:
				p.Elem().SetString("v" + strconv.Itoa(*seed) + "/é")
			case reflect.Struct:
				fill(p, seed)
			}
			f.Set(p)
		}
	}
}

// same compares our message with the generated one field by field (by Go
// name); every field of ours must be set in both.
func same(t *testing.T, path string, o, g reflect.Value) {
	t.Helper()
	if o.Kind() == reflect.Pointer {
		if o.IsNil() || g.IsNil() {
			if o.IsNil() != g.IsNil() {
				t.Errorf("%s: set in one only (ours nil %v)", path, o.IsNil())
			}
			return
		}
		o, g = o.Elem(), g.Elem()
	}
	switch o.Kind() {
	case reflect.Struct:
		for i := 0; i < o.NumField(); i++ {
			name := o.Type().Field(i).Name
			same(t, path+"."+name, o.Field(i), g.FieldByName(name))
		}
	case reflect.Slice:
		if o.Len() != g.Len() {
			t.Errorf("%s: %d elements, generated %d", path, o.Len(), g.Len())
			return
		}
		for i := 0; i < o.Len(); i++ {
			same(t, path+"["+strconv.Itoa(i)+"]", o.Index(i), g.Index(i))
		}
	case reflect.Int32:
		if o.Int() != g.Int() {
			t.Errorf("%s: %d, generated %d", path, o.Int(), g.Int())
		}
	default:
		if !reflect.DeepEqual(o.Interface(), g.Interface()) {
			t.Errorf("%s: %v, generated %v", path, o.Interface(), g.Interface())
		}
	}
}

// Our bytes, read by the generated code, give the same message with no
// unknown field, and the generated code encodes that message to the
// same bytes: byte-level equivalence for every field we have. And the
// other way: generated bytes read by us give the same values.
func TestWireEquivalence(t *testing.T) {
	for _, p := range pairs {
		name := reflect.TypeOf(p.ours).Name()
		ours := reflect.New(reflect.TypeOf(p.ours))
		seed := 0
		fill(ours, &seed)
		b, err := Marshal(ours.Interface())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		gen := reflect.New(reflect.TypeOf(p.gen)).Interface().(proto.Message)
		if err := (proto.UnmarshalOptions{AllowPartial: true}).Unmarshal(b, gen); err != nil {
			t.Fatalf("%s: generated code cannot read our bytes: %v", name, err)
		}
		if u := gen.ProtoReflect().GetUnknown(); len(u) != 0 {
			t.Errorf("%s: %d bytes of unknown fields", name, len(u))
		}
		same(t, name, ours, reflect.ValueOf(gen))
		gb, err := (proto.MarshalOptions{Deterministic: true, AllowPartial: true}).Marshal(gen)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, gb) {
			t.Errorf("%s: bytes differ:\n ours %x\n  gen %x", name, b, gb)
		}
		back := reflect.New(reflect.TypeOf(p.ours))
		if err := Unmarshal(gb, back.Interface()); err != nil {
			t.Fatalf("%s: reading generated bytes: %v", name, err)
		}
		same(t, name+" (decoded)", back, reflect.ValueOf(gen))
	}
}

// A representative dump request and a restore reply, built as the
// callers do, against the same built with the generated types.
func TestRepresentative(t *testing.T) {
	dump, mode := CriuReqType_DUMP, CriuCgMode_SOFT
	req := &CriuReq{Type: &dump, Opts: &CriuOpts{
		ImagesDirFd: Int32(5), Pid: Int32(1234), LogLevel: Int32(4), LogFile: String("dump.log"),
		Root: String("/b/rootfs"), ManageCgroups: Bool(true), ManageCgroupsMode: &mode, LazyPages: Bool(false),
		ExtMnt:   []*ExtMountMap{{Key: String("/etc/hosts"), Val: String("/etc/hosts")}},
		External: []string{"mnt[/x]:y"}, EmptyNs: Uint32(0x40000000),
		Ps: &CriuPageServerInfo{Address: String("127.0.0.1"), Port: Int32(27)},
	}}
	gdump, gmode := gorpc.CriuReqType_DUMP, gorpc.CriuCgMode_SOFT
	want := &gorpc.CriuReq{Type: &gdump, Opts: &gorpc.CriuOpts{
		ImagesDirFd: proto.Int32(5), Pid: proto.Int32(1234), LogLevel: proto.Int32(4), LogFile: proto.String("dump.log"),
		Root: proto.String("/b/rootfs"), ManageCgroups: proto.Bool(true), ManageCgroupsMode: &gmode, LazyPages: proto.Bool(false),
		ExtMnt:   []*gorpc.ExtMountMap{{Key: proto.String("/etc/hosts"), Val: proto.String("/etc/hosts")}},
		External: []string{"mnt[/x]:y"}, EmptyNs: proto.Uint32(0x40000000),
		Ps: &gorpc.CriuPageServerInfo{Address: proto.String("127.0.0.1"), Port: proto.Int32(27)},
	}}
	b, err := Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	wb, _ := proto.Marshal(want)
	if !bytes.Equal(b, wb) {
		t.Errorf("dump request:\n ours %x\n want %x", b, wb)
	}
	got := &gorpc.CriuReq{}
	if err := proto.Unmarshal(b, got); err != nil || !proto.Equal(got, want) {
		t.Errorf("dump request decoded: %v %v", got, err)
	}

	// A reply with fields we do not keep (features, ps) around ours.
	rt := gorpc.CriuReqType_RESTORE
	rb, _ := proto.Marshal(&gorpc.CriuResp{Type: &rt, Success: proto.Bool(true),
		Restore:  &gorpc.CriuRestoreResp{Pid: proto.Int32(77)},
		Ps:       &gorpc.CriuPageServerInfo{Port: proto.Int32(1)},
		Features: &gorpc.CriuFeatures{LazyPages: proto.Bool(true)},
		CrErrno:  proto.Int32(-2), CrErrmsg: proto.String("m")})
	resp := &CriuResp{}
	if err := Unmarshal(rb, resp); err != nil {
		t.Fatal(err)
	}
	if resp.GetType() != CriuReqType_RESTORE || !resp.GetSuccess() || resp.Restore.Pid == nil || *resp.Restore.Pid != 77 ||
		resp.GetCrErrno() != -2 || resp.GetCrErrmsg() != "m" || resp.GetNotify() != nil || resp.GetVersion() != nil {
		t.Errorf("restore reply: %+v", resp)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	for name, b := range map[string][]byte{
		"truncated varint":  {0x08, 0x80},
		"truncated length":  {0x12, 0x05, 'a'},
		"wrong wire type":   {0x0a, 0x01, 'a'}, // type (varint) sent as bytes
		"group":             {0x0b},
		"field 0":           {0x00, 0x01},
		"truncated fixed32": {0x7d, 0x01},
	} {
		if err := Unmarshal(b, &CriuResp{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Unknown fields of every wire type are skipped.
	ok := []byte{0x61, 1, 2, 3, 4, 5, 6, 7, 8, 0x6d, 1, 2, 3, 4, 0x60, 0x05, 0x6a, 0x01, 'z', 0x10, 0x01}
	r := &CriuResp{}
	if err := Unmarshal(ok, r); err != nil || !r.GetSuccess() {
		t.Errorf("unknown fields: %v %+v", err, r)
	}
	if _, err := Marshal(CriuReq{}); err == nil {
		t.Error("Marshal of a non-pointer: no error")
	}
}

// A required field left unset is refused, as protobuf-go refuses it.
func TestMarshalRequired(t *testing.T) {
	dump := CriuReqType_DUMP
	for name, m := range map[string]any{
		"CriuReq.Type":          &CriuReq{Opts: &CriuOpts{ImagesDirFd: Int32(3)}},
		"CriuOpts.ImagesDirFd":  &CriuReq{Type: &dump, Opts: &CriuOpts{Pid: Int32(1)}},
		"InheritFd.Fd":          &CriuOpts{ImagesDirFd: Int32(3), InheritFd: []*InheritFd{{Key: String("k")}}},
		"JoinNamespace.NsFile":  &CriuOpts{ImagesDirFd: Int32(3), JoinNs: []*JoinNamespace{{Ns: String("net")}}},
		"ExtMountMap.Val":       &CriuOpts{ImagesDirFd: Int32(3), ExtMnt: []*ExtMountMap{{Key: String("/a")}}},
		"CgroupRoot.Path":       &CriuOpts{ImagesDirFd: Int32(3), CgRoot: []*CgroupRoot{{Ctrl: String("cpu")}}},
		"CriuPageServerInfo ok": &CriuOpts{ImagesDirFd: Int32(3), Ps: &CriuPageServerInfo{}},
	} {
		_, err := Marshal(m)
		if strings.HasSuffix(name, " ok") {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), name+": required field not set") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := proto.Marshal(&gorpc.CriuReq{}); err == nil {
		t.Error("protobuf-go encodes a criu_req without its type (the test's premise)")
	}
}

func TestGettersOnNil(t *testing.T) {
	var r *CriuResp
	var n *CriuNotify
	var v *CriuVersion
	if r.GetType() != CriuReqType_EMPTY || r.GetSuccess() || r.GetCrErrno() != 0 || r.GetCrErrmsg() != "" ||
		r.GetNotify() != nil || r.GetVersion() != nil || n.GetScript() != "" || n.GetPid() != 0 ||
		v.GetMajorNumber() != 0 || v.GetMinorNumber() != 0 || v.GetSublevel() != 0 || (*CriuReq)(nil).GetType() != CriuReqType_EMPTY {
		t.Error("getters on nil")
	}
	var m *ExtMountMap
	if m.GetKey() != "" || m.GetVal() != "" || (&ExtMountMap{Key: String("k"), Val: String("v")}).GetVal() != "v" {
		t.Error("ExtMountMap getters")
	}
	v = &CriuVersion{MajorNumber: Int32(3), MinorNumber: Int32(17), Sublevel: Int32(1)}
	if v.GetMajorNumber() != 3 || v.GetMinorNumber() != 17 || v.GetSublevel() != 1 {
		t.Error("version getters")
	}
}
