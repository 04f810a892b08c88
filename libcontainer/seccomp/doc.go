// Package seccomp turns the runtime-spec linux.seccomp object into a BPF
// filter (built with libseccomp) and installs it.
//
// Semantics, chosen to match runc where the spec leaves room:
//
//   - Syscall names libseccomp cannot resolve on the native architecture are
//     skipped (an old kernel/library must still run a newer profile).
//   - A rule whose action (including its errno) equals the default action is
//     dropped: libseccomp refuses such rules and they change nothing.
//   - errnoRet/defaultErrnoRet are only valid with SCMP_ACT_ERRNO and
//     SCMP_ACT_TRACE (the spec says to fail otherwise); unset means EPERM.
//   - args in one entry are ANDed. When two args name the same index, every
//     arg of that entry becomes its own single-condition rule instead, so they
//     are ORed (runc's behaviour; libseccomp cannot AND two checks on one
//     argument). Example: personality with arg0==8 and arg0==0x20008 matches
//     either value.
//   - SECCOMP_FILTER_FLAG_TSYNC is always used (it may also be listed).
//     WAIT_KILLABLE_RECV only means something with a listener and is ignored
//     when no rule uses SCMP_ACT_NOTIFY.
//
// The program is built by libseccomp but loaded with seccomp(2) by this
// package, so every flag the kernel knows is usable even where the installed
// libseccomp (2.5 on Debian 12) does not know it, and no_new_privs is left to
// the caller.
package seccomp
