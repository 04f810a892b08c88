package layer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/internal/fdio"
)

// Most of an unpack is the kernel allocating inodes (ext4_create), which
// one goroutine cannot overlap with anything. Small regular files are
// therefore read into memory by the tar reader and written by a few
// workers; everything that could conflict with a pending write (replacing
// or removing a path, hardlinks, opaque dirs) waits for them first.
// Creating files holds the parent directory's lock, so all files of one
// directory go to the same worker and workers run in different
// directories instead of spinning on each other's lock.
const (
	fileWorkers = 3
	queuedMax   = 256 << 10 // larger files are written inline, streamed
	queuedFiles = 512       // per worker: about one directory's files ahead
	queuedBytes = 48 << 20  // memory bound for all queued contents
)

// DirPool runs file writes on a few workers, every write for one
// directory on the same worker. The zero value is ready to use; call Stop
// when done.
type DirPool struct {
	queues  []chan poolJob
	byDir   map[string]int
	next    int
	pending sync.WaitGroup
	workers sync.WaitGroup
	mu      sync.Mutex
	err     error
	// bytes held by queued jobs, bounded by queuedBytes.
	bmu   sync.Mutex
	bcond *sync.Cond
	bytes int64
}

type poolJob struct {
	fn   func() error
	size int64
}

func (w *DirPool) start() {
	if w.queues != nil {
		return
	}
	w.bcond = sync.NewCond(&w.bmu)
	w.byDir = map[string]int{}
	for range fileWorkers {
		q := make(chan poolJob, queuedFiles)
		w.queues = append(w.queues, q)
		w.workers.Add(1)
		go func() {
			defer w.workers.Done()
			for j := range q {
				if w.Err() == nil {
					if err := j.fn(); err != nil {
						w.fail(err)
					}
				}
				w.release(j.size)
				w.pending.Done()
			}
		}()
	}
}

func (w *DirPool) acquire(n int64) {
	w.bmu.Lock()
	for w.bytes > 0 && w.bytes+n > queuedBytes {
		w.bcond.Wait()
	}
	w.bytes += n
	w.bmu.Unlock()
}

func (w *DirPool) release(n int64) {
	w.bmu.Lock()
	w.bytes -= n
	w.bmu.Unlock()
	w.bcond.Broadcast()
}

// Submit queues fn on the worker that owns dir; size is the memory fn
// holds until it has run (it blocks while too much is queued).
func (w *DirPool) Submit(dir string, size int64, fn func() error) {
	w.start()
	i, ok := w.byDir[dir]
	if !ok {
		i = w.next % len(w.queues)
		w.next++
		w.byDir[dir] = i
	}
	w.acquire(size)
	w.pending.Add(1)
	w.queues[i] <- poolJob{fn, size}
}

// Barrier waits until every queued job has run.
func (w *DirPool) Barrier() error {
	w.pending.Wait()
	return w.Err()
}

// Stop ends the workers after the queued jobs; safe to call more than once.
func (w *DirPool) Stop() error {
	if w.queues != nil {
		for _, q := range w.queues {
			close(q)
		}
		w.workers.Wait()
		w.queues = nil
	}
	return w.Err()
}

func (w *DirPool) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

// Err is the first error a job returned.
func (w *DirPool) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// writeRegular creates target (which must not exist; the parent was
// checked by the caller) with data or the contents of r, then sets owner,
// xattrs, mode and times through the fd, without resolving the path again.
func writeRegular(hdr *tar.Header, target string, data []byte, r io.Reader, buf []byte, uid, gid int, rootless bool) error {
	fd, err := unix.Open(target, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &Error{hdr.Name, (&pathErr{"open", target, err}).Error()}
	}
	defer unix.Close(fd)
	if r != nil {
		for {
			n, rerr := r.Read(buf)
			if n > 0 {
				if err := fdio.WriteAll(fd, buf[:n]); err != nil {
					return &Error{hdr.Name, err.Error()}
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return &Error{hdr.Name, rerr.Error()}
			}
		}
	} else if err := fdio.WriteAll(fd, data); err != nil {
		return &Error{hdr.Name, err.Error()}
	}
	if err := unix.Fchown(fd, uid, gid); err != nil && !rootless {
		return &Error{hdr.Name, err.Error()}
	}
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok || forbiddenXattr(name) {
			continue
		}
		if err := unix.Fsetxattr(fd, name, []byte(v), 0); err != nil && !rootless && !errors.Is(err, unix.ENOTSUP) {
			return &Error{hdr.Name, fmt.Sprintf("xattr %s: %v", name, err)}
		}
	}
	// After chown, which clears setuid bits.
	if err := unix.Fchmod(fd, uint32(hdr.Mode&0o7777)); err != nil {
		return &Error{hdr.Name, err.Error()}
	}
	at := hdr.AccessTime
	if at.IsZero() {
		at = hdr.ModTime
	}
	ts := [2]unix.Timespec{unix.NsecToTimespec(at.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if err := futimens(fd, &ts); err != nil && !errors.Is(err, unix.ENOTSUP) {
		return &Error{hdr.Name, err.Error()}
	}
	return nil
}

// futimens is utimensat(fd, NULL, ts, 0): the fd itself.
func futimens(fd int, ts *[2]unix.Timespec) error {
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// forbiddenXattr: a layer must not forge overlay metadata (whiteouts, redirects).
func forbiddenXattr(name string) bool {
	return strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.")
}

type pathErr struct {
	op, path string
	err      error
}

func (e *pathErr) Error() string { return e.op + " " + e.path + ": " + e.err.Error() }
