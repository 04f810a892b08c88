package container

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

// LogEntry is one line of a container log file: JSON lines like docker's
// json-file driver ({"stream":"stdout","time":"...","log":"text\n"}).
type LogEntry struct {
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
	Log    string    `json:"log"`
}

// logWriter serializes entries from both streams into one file.
type logWriter struct {
	mu sync.Mutex
	f  *os.File
}

func (w *logWriter) write(stream string, data []byte) {
	b, _ := json.Marshal(LogEntry{Stream: stream, Time: time.Now().UTC(), Log: string(data)})
	w.mu.Lock()
	w.f.Write(append(b, '\n'))
	w.mu.Unlock()
}

// copyStream reads a container stream line by line into the log (lines
// longer than the buffer are split), teeing raw bytes to tee if set.
func (w *logWriter) copyStream(stream string, r io.Reader, tee io.Writer) {
	br := bufio.NewReaderSize(r, 16<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			w.write(stream, line)
			if tee != nil {
				tee.Write(line)
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// ReadLogs copies the log's entries to stdout and stderr by stream. With
// follow it keeps reading until done() says the writer is gone.
func ReadLogs(path string, follow bool, done func() bool, stdout, stderr io.Writer) error {
	return readLogsFrom(path, 0, follow, done, nil, stdout, stderr)
}

// readLogsFrom is ReadLogs from byte offset (an entry boundary: the
// monitor appends whole entries); a closed stop ends a follow early.
func readLogsFrom(path string, offset int64, follow bool, done func() bool, stop <-chan struct{}, stdout, stderr io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return err
	}
	br := bufio.NewReader(f)
	var partial []byte
	for {
		chunk, err := br.ReadBytes('\n')
		partial = append(partial, chunk...)
		if err == nil {
			var e LogEntry
			if json.Unmarshal(partial, &e) == nil {
				out := stdout
				if e.Stream == "stderr" {
					out = stderr
				}
				io.WriteString(out, e.Log)
			}
			partial = partial[:0]
			continue
		}
		if err != io.EOF {
			return err
		}
		if !follow {
			return nil
		}
		if done() {
			// One more pass: the writer may have flushed after our EOF.
			follow = false
			continue
		}
		select {
		case <-stop:
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}
