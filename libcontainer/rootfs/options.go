package rootfs

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// mountOpts is a parsed mounts[i].options list.
type mountOpts struct {
	flags    uintptr   // MS_* for mount(2)
	cleared  uintptr   // MS_* flags the user explicitly turned off (rw, suid, ...)
	atime    bool      // an atime option was given
	prop     []uintptr // propagation changes, applied one by one after the mount
	recSet   uint64    // MOUNT_ATTR_* set recursively (rro, rnosuid, ...)
	recClr   uint64    // MOUNT_ATTR_* cleared recursively (rrw, rsuid, ...)
	data     []string  // everything else goes to the filesystem
	idmap    bool      // idmap or ridmap: the parent prepares the mount (idmap.go)
	idmapRec bool      // ridmap: the idmapping also applies to submounts
	copyup   bool      // tmpcopyup: copy the hidden directory into the new tmpfs
}

func (o *mountOpts) isBind() bool { return o.flags&unix.MS_BIND != 0 }

// dataString joins the filesystem options for mount(2).
func (o *mountOpts) dataString() string { return strings.Join(o.data, ",") }

// flagOpt sets (clear=false) or clears a mount(2) flag.
type flagOpt struct {
	clear bool
	flag  uintptr
}

var flagOpts = map[string]flagOpt{
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"iversion":      {false, unix.MS_I_VERSION},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"loud":          {true, unix.MS_SILENT},
	"mand":          {false, unix.MS_MANDLOCK},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"noiversion":    {true, unix.MS_I_VERSION},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"nosymfollow":   {false, unix.MS_NOSYMFOLLOW},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"silent":        {false, unix.MS_SILENT},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"symfollow":     {true, unix.MS_NOSYMFOLLOW},
	"sync":          {false, unix.MS_SYNCHRONOUS},
}

var atimeOpts = map[string]bool{
	"atime": true, "noatime": true, "relatime": true, "norelatime": true,
	"strictatime": true, "nostrictatime": true, "diratime": true, "nodiratime": true,
}

var propOpts = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// recOpts are the recursive mount_setattr(2) options.
var recOpts = map[string]struct {
	clear bool
	attr  uint64
}{
	"rro":            {false, unix.MOUNT_ATTR_RDONLY},
	"rrw":            {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":        {false, unix.MOUNT_ATTR_NOSUID},
	"rsuid":          {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev":         {false, unix.MOUNT_ATTR_NODEV},
	"rdev":           {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec":        {false, unix.MOUNT_ATTR_NOEXEC},
	"rexec":          {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":    {false, unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":      {true, unix.MOUNT_ATTR_NODIRATIME},
	"rnosymfollow":   {false, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":     {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rrelatime":      {false, unix.MOUNT_ATTR_RELATIME},
	"rnorelatime":    {true, unix.MOUNT_ATTR_RELATIME},
	"rnoatime":       {false, unix.MOUNT_ATTR_NOATIME},
	"ratime":         {true, unix.MOUNT_ATTR_NOATIME},
	"rstrictatime":   {false, unix.MOUNT_ATTR_STRICTATIME},
	"rnostrictatime": {true, unix.MOUNT_ATTR_STRICTATIME},
}

// parseOptions turns a mounts[i].options list into flags, propagation,
// recursive attributes and filesystem data. Later options win, as with
// mount(8).
func parseOptions(opts []string) *mountOpts {
	o := &mountOpts{}
	for _, opt := range opts {
		if f, ok := flagOpts[opt]; ok {
			if atimeOpts[opt] {
				o.atime = true
			}
			if f.clear {
				o.flags &^= f.flag
				o.cleared |= f.flag
			} else {
				o.flags |= f.flag
				o.cleared &^= f.flag
			}
			continue
		}
		if p, ok := propOpts[opt]; ok {
			o.prop = append(o.prop, p)
			continue
		}
		if r, ok := recOpts[opt]; ok {
			// The atime attributes are one field: changing one clears
			// the others first, as mount_setattr(2) requires.
			isAtime := r.attr == unix.MOUNT_ATTR_NOATIME || r.attr == unix.MOUNT_ATTR_STRICTATIME ||
				(r.attr == unix.MOUNT_ATTR_RELATIME && strings.HasSuffix(opt, "relatime"))
			switch {
			case isAtime && !r.clear:
				o.recClr |= unix.MOUNT_ATTR__ATIME
				o.recSet = o.recSet&^unix.MOUNT_ATTR__ATIME | r.attr
			case isAtime && r.clear:
				// "ratime" etc.: back to the default, relatime.
				o.recClr |= unix.MOUNT_ATTR__ATIME
				o.recSet &^= unix.MOUNT_ATTR__ATIME
			case r.clear:
				o.recClr |= r.attr
				o.recSet &^= r.attr
			default:
				o.recSet |= r.attr
				o.recClr &^= r.attr
			}
			continue
		}
		switch opt {
		case "idmap", "ridmap":
			o.idmap, o.idmapRec = true, opt == "ridmap"
			continue
		case "tmpcopyup":
			o.copyup = true
			continue
		case "":
			continue
		}
		o.data = append(o.data, opt)
	}
	return o
}

// propagationFlag parses linux.rootfsPropagation.
func propagationFlag(s string) (uintptr, error) {
	if s == "" {
		return 0, nil
	}
	p, ok := propOpts[s]
	if !ok {
		return 0, fmt.Errorf("linux.rootfsPropagation: unknown value %q", s)
	}
	return p, nil
}
