// Package rpc is the part of CRIU's RPC protocol (criu/images/rpc.proto,
// proto2) that myrun speaks: the request, option and reply messages with
// the fields it sets or reads, and a small codec for them driven by the
// field numbers in the `pb` struct tags (",req": declared required).
//
// It replaces go-criu's generated rpc package in the binary: a generated
// protobuf type links the protobuf runtime, whose package init (type
// registry, file descriptors, detrand reading the executable) ran in every
// myrun process, every verb, for the two verbs that talk to CRIU (~120
// allocations, ~15 syscalls, a third of all package init). Names follow
// the generated package so the callers read the same. rpc_test.go checks
// the field numbers and the encoded bytes against the generated package,
// which tests still link.
package rpc

import "strconv"

// CriuReqType is rpc.proto's criu_req_type.
type CriuReqType int32

const (
	CriuReqType_EMPTY            CriuReqType = 0
	CriuReqType_DUMP             CriuReqType = 1
	CriuReqType_RESTORE          CriuReqType = 2
	CriuReqType_CHECK            CriuReqType = 3
	CriuReqType_PRE_DUMP         CriuReqType = 4
	CriuReqType_PAGE_SERVER      CriuReqType = 5
	CriuReqType_NOTIFY           CriuReqType = 6
	CriuReqType_CPUINFO_DUMP     CriuReqType = 7
	CriuReqType_CPUINFO_CHECK    CriuReqType = 8
	CriuReqType_FEATURE_CHECK    CriuReqType = 9
	CriuReqType_VERSION          CriuReqType = 10
	CriuReqType_WAIT_PID         CriuReqType = 11
	CriuReqType_PAGE_SERVER_CHLD CriuReqType = 12
	CriuReqType_SINGLE_PRE_DUMP  CriuReqType = 13
)

var reqTypeNames = [...]string{"EMPTY", "DUMP", "RESTORE", "CHECK", "PRE_DUMP", "PAGE_SERVER",
	"NOTIFY", "CPUINFO_DUMP", "CPUINFO_CHECK", "FEATURE_CHECK", "VERSION", "WAIT_PID",
	"PAGE_SERVER_CHLD", "SINGLE_PRE_DUMP"}

// String is the enum value's name in rpc.proto (the number if unknown).
func (t CriuReqType) String() string {
	if t >= 0 && int(t) < len(reqTypeNames) {
		return reqTypeNames[t]
	}
	return strconv.Itoa(int(t))
}

// CriuCgMode is rpc.proto's criu_cg_mode.
type CriuCgMode int32

const (
	CriuCgMode_IGNORE  CriuCgMode = 0
	CriuCgMode_CG_NONE CriuCgMode = 1
	CriuCgMode_PROPS   CriuCgMode = 2
	CriuCgMode_SOFT    CriuCgMode = 3
	CriuCgMode_FULL    CriuCgMode = 4
	CriuCgMode_STRICT  CriuCgMode = 5
	CriuCgMode_DEFAULT CriuCgMode = 6
)

var cgModeNames = [...]string{"IGNORE", "CG_NONE", "PROPS", "SOFT", "FULL", "STRICT", "DEFAULT"}

// String is the enum value's name in rpc.proto (the number if unknown).
func (m CriuCgMode) String() string {
	if m >= 0 && int(m) < len(cgModeNames) {
		return cgModeNames[m]
	}
	return strconv.Itoa(int(m))
}

// CriuPageServerInfo is criu_page_server_info.
type CriuPageServerInfo struct {
	Address *string `pb:"1"`
	Port    *int32  `pb:"2"`
	Pid     *int32  `pb:"3"`
	Fd      *int32  `pb:"4"`
}

// ExtMountMap is ext_mount_map.
type ExtMountMap struct {
	Key *string `pb:"1,req"`
	Val *string `pb:"2,req"`
}

// GetKey is the mapping's key ("" if unset).
func (m *ExtMountMap) GetKey() string {
	if m == nil || m.Key == nil {
		return ""
	}
	return *m.Key
}

// GetVal is the mapping's value ("" if unset).
func (m *ExtMountMap) GetVal() string {
	if m == nil || m.Val == nil {
		return ""
	}
	return *m.Val
}

// JoinNamespace is join_namespace.
type JoinNamespace struct {
	Ns       *string `pb:"1,req"`
	NsFile   *string `pb:"2,req"`
	ExtraOpt *string `pb:"3"`
}

// InheritFd is inherit_fd.
type InheritFd struct {
	Key *string `pb:"1,req"`
	Fd  *int32  `pb:"2,req"`
}

// CgroupRoot is cgroup_root.
type CgroupRoot struct {
	Ctrl *string `pb:"1"`
	Path *string `pb:"2,req"`
}

// CriuOpts is criu_opts: the options myrun sets (numbers are rpc.proto's).
type CriuOpts struct {
	ImagesDirFd       *int32              `pb:"1,req"`
	Pid               *int32              `pb:"2"`
	LeaveRunning      *bool               `pb:"3"`
	ExtUnixSk         *bool               `pb:"4"`
	TcpEstablished    *bool               `pb:"5"`
	ShellJob          *bool               `pb:"7"`
	FileLocks         *bool               `pb:"8"`
	LogLevel          *int32              `pb:"9"`
	LogFile           *string             `pb:"10"`
	Ps                *CriuPageServerInfo `pb:"11"`
	NotifyScripts     *bool               `pb:"12"`
	Root              *string             `pb:"13"`
	ParentImg         *string             `pb:"14"`
	TrackMem          *bool               `pb:"15"`
	AutoDedup         *bool               `pb:"16"`
	WorkDirFd         *int32              `pb:"17"`
	LinkRemap         *bool               `pb:"18"`
	ExtMnt            []*ExtMountMap      `pb:"23"`
	ManageCgroups     *bool               `pb:"24"`
	CgRoot            []*CgroupRoot       `pb:"25"`
	RstSibling        *bool               `pb:"26"`
	InheritFd         []*InheritFd        `pb:"27"`
	ManageCgroupsMode *CriuCgMode         `pb:"34"`
	External          []string            `pb:"37"`
	EmptyNs           *uint32             `pb:"38"`
	JoinNs            []*JoinNamespace    `pb:"39"`
	FreezeCgroup      *string             `pb:"44"`
	TcpSkipInFlight   *bool               `pb:"46"`
	LazyPages         *bool               `pb:"48"`
	StatusFd          *int32              `pb:"49"`
	OrphanPtsMaster   *bool               `pb:"50"`
	ConfigFile        *string             `pb:"51"`
	LsmProfile        *string             `pb:"53"`
	LsmMountContext   *string             `pb:"63"`
}

// CriuReq is criu_req.
type CriuReq struct {
	Type          *CriuReqType `pb:"1,req"`
	Opts          *CriuOpts    `pb:"2"`
	NotifySuccess *bool        `pb:"3"`
}

// GetType is the request's type (EMPTY if unset).
func (r *CriuReq) GetType() CriuReqType {
	if r == nil || r.Type == nil {
		return CriuReqType_EMPTY
	}
	return *r.Type
}

// CriuDumpResp is criu_dump_resp.
type CriuDumpResp struct {
	Restored *bool `pb:"1"`
}

// CriuRestoreResp is criu_restore_resp.
type CriuRestoreResp struct {
	Pid *int32 `pb:"1,req"`
}

// CriuNotify is criu_notify.
type CriuNotify struct {
	Script *string `pb:"1"`
	Pid    *int32  `pb:"2"`
}

// GetScript is the notification's name ("" if unset).
func (n *CriuNotify) GetScript() string {
	if n == nil || n.Script == nil {
		return ""
	}
	return *n.Script
}

// GetPid is the pid the notification carries (0 if unset).
func (n *CriuNotify) GetPid() int32 {
	if n == nil || n.Pid == nil {
		return 0
	}
	return *n.Pid
}

// CriuVersion is criu_version.
type CriuVersion struct {
	MajorNumber *int32  `pb:"1,req"`
	MinorNumber *int32  `pb:"2,req"`
	Gitid       *string `pb:"3"`
	Sublevel    *int32  `pb:"4"`
	Extra       *int32  `pb:"5"`
	Name        *string `pb:"6"`
}

// GetMajorNumber is the major version (0 if unset).
func (v *CriuVersion) GetMajorNumber() int32 { return get32(v, 0) }

// GetMinorNumber is the minor version (0 if unset).
func (v *CriuVersion) GetMinorNumber() int32 { return get32(v, 1) }

// GetSublevel is the sublevel (0 if unset).
func (v *CriuVersion) GetSublevel() int32 { return get32(v, 2) }

func get32(v *CriuVersion, which int) int32 {
	if v == nil {
		return 0
	}
	p := [...]*int32{v.MajorNumber, v.MinorNumber, v.Sublevel}[which]
	if p == nil {
		return 0
	}
	return *p
}

// CriuResp is criu_resp: the replies myrun reads (features and page
// server info are skipped as unknown fields).
type CriuResp struct {
	Type     *CriuReqType     `pb:"1,req"`
	Success  *bool            `pb:"2,req"`
	Dump     *CriuDumpResp    `pb:"3"`
	Restore  *CriuRestoreResp `pb:"4"`
	Notify   *CriuNotify      `pb:"5"`
	CrErrno  *int32           `pb:"7"`
	CrErrmsg *string          `pb:"9"`
	Version  *CriuVersion     `pb:"10"`
	Status   *int32           `pb:"11"`
}

// GetType is the reply's type (EMPTY if unset).
func (r *CriuResp) GetType() CriuReqType {
	if r == nil || r.Type == nil {
		return CriuReqType_EMPTY
	}
	return *r.Type
}

// GetSuccess tells whether CRIU reports success.
func (r *CriuResp) GetSuccess() bool { return r != nil && r.Success != nil && *r.Success }

// GetCrErrno is CRIU's errno (0 if unset).
func (r *CriuResp) GetCrErrno() int32 {
	if r == nil || r.CrErrno == nil {
		return 0
	}
	return *r.CrErrno
}

// GetCrErrmsg is CRIU's error message ("" if unset).
func (r *CriuResp) GetCrErrmsg() string {
	if r == nil || r.CrErrmsg == nil {
		return ""
	}
	return *r.CrErrmsg
}

// GetNotify is the notification (nil if none).
func (r *CriuResp) GetNotify() *CriuNotify {
	if r == nil {
		return nil
	}
	return r.Notify
}

// GetVersion is the version reply (nil if none).
func (r *CriuResp) GetVersion() *CriuVersion {
	if r == nil {
		return nil
	}
	return r.Version
}

// Bool, Int32, Uint32 and String return a pointer to v, as proto's
// helpers of the same names (optional fields are pointers).
func Bool(v bool) *bool       { return &v }
func Int32(v int32) *int32    { return &v }
func Uint32(v uint32) *uint32 { return &v }
func String(v string) *string { return &v }
