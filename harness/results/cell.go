package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/relapse-dev/relapse/harness/prowjob"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/textutil"
)

// A cell is its directory: the directory's name is the cell's ID, and the
// metadata inside must say the same. Cells arrive from many machines (CI
// artifacts, shards, nodes of an Indexed Job), so nothing in one is taken
// on trust: its files are opened without following links, its JSON is
// parsed strictly, and a path it names must stay inside it.

// What relapse keeps in a cell's artifacts and how much it reads.
const (
	// reportsDir is where a cell's relapse reports are, under artifacts.
	reportsDir = "reports"
	// maxJSON bounds started.json and finished.json: relapse writes a few
	// KiB; anything near this is not a cell.
	maxJSON = 1 << 20
)

// nameSyntax is what relapse matrix makes of a cell's dimensions, and what
// a night may be called: one path element a shell, a URL and a CI log take
// as it is.
var nameSyntax = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// maxName is the longest file name the filesystems relapse runs on take.
const maxName = 255

func checkName(what, name, example string) error {
	if len(name) > maxName || !nameSyntax.MatchString(name) {
		return fmt.Errorf("%s %q: want letters, digits, '.', '_' and '-', starting with a letter or digit, at most %d bytes (such as %s)",
			what, name, maxName, example)
	}
	return nil
}

// CheckCellID says whether id is a valid cell ID (what relapse matrix
// names cells: runc-pipe-hang.runc-1.0.0-rc93).
func CheckCellID(id string) error {
	return checkName("cell ID", id, "runc-pipe-hang.runc-1.0.0-rc93")
}

// CheckNight says whether name is a valid night.
func CheckNight(name string) error {
	return checkName("night", name, "2026-12-01T0217 or run-42")
}

// CellError is a cell refused: which file and what is wrong with it.
type CellError struct {
	// Dir is the cell directory as its reader was given it.
	Dir string
	// File is the refused file, relative to Dir ("" for Dir itself).
	File string
	Err  error
}

func (e *CellError) Error() string {
	p := e.Dir
	if e.File != "" {
		p = filepath.Join(e.Dir, e.File)
	}
	// The path comes from another machine: a newline or ESC in it is
	// shown, not obeyed, wherever the error is printed.
	return fmt.Sprintf("%s: %v", textutil.Printable(p), e.Err)
}

func (e *CellError) Unwrap() error { return e.Err }

// Errored says whether the cell ended without a verdict of the bug's
// making: relapse itself failed (metadata.error, or ERROR as older nights
// say), it was aborted, or it never finished.
func (e Entry) Errored() bool {
	return e.Result == prowjob.ResultError || e.Result == prowjob.ResultAborted || e.Meta["error"] != ""
}

// ParseStarted parses and checks started.json of the cell id: one JSON
// object with the fields relapse writes, a timestamp, and no cell but id.
func ParseStarted(id string, data []byte) (prowjob.Started, error) {
	var s prowjob.Started
	if err := decodeStrict(data, &s); err != nil {
		return s, err
	}
	if s.Timestamp <= 0 {
		return s, fmt.Errorf("timestamp %d: want the Unix time the cell started", s.Timestamp)
	}
	if c, ok := s.Metadata["cell"]; ok && c != id {
		return s, fmt.Errorf("metadata.cell %q differs from the directory it is in (%q): a cell is its directory", c, id)
	}
	return s, nil
}

// ParseFinished parses and checks finished.json of the cell id: one JSON
// object with the fields relapse writes, a known result that agrees with
// passed, metadata.cell equal to id, a known verdict, counts that are
// counts, and a report that names one directory of the cell's reports.
func ParseFinished(id string, data []byte) (prowjob.Finished, error) {
	var f prowjob.Finished
	if err := decodeStrict(data, &f); err != nil {
		return f, err
	}
	if f.Timestamp <= 0 {
		return f, fmt.Errorf("timestamp %d: want the Unix time the cell finished", f.Timestamp)
	}
	if !prowjob.KnownResult(f.Result) {
		return f, fmt.Errorf("result %q: want SUCCESS, FAILURE, ABORTED or ERROR", f.Result)
	}
	if f.Passed != (f.Result == prowjob.ResultSuccess) {
		return f, fmt.Errorf("passed is %t with result %s: a cell passes exactly when its result is SUCCESS", f.Passed, f.Result)
	}
	md := f.Metadata
	if md["cell"] != id {
		return f, fmt.Errorf("metadata.cell %q differs from the directory it is in (%q): a cell is its directory", md["cell"], id)
	}
	switch v := report.Result(md["verdict"]); v {
	case "", report.Reproduced, report.NotReproduced, report.Inconclusive:
	default:
		return f, fmt.Errorf("metadata.verdict %q: want %s, %s or %s", v, report.Reproduced, report.NotReproduced, report.Inconclusive)
	}
	for _, k := range []string{"k", "n"} {
		if v, ok := md[k]; ok {
			if n, err := strconv.Atoi(v); err != nil || n < 0 {
				return f, fmt.Errorf("metadata.%s %q: want a count (0, 1, 2, ...)", k, v)
			}
		}
	}
	if k, n := parseInt(md["k"]), parseInt(md["n"]); k > n {
		return f, fmt.Errorf("metadata.k %d is more than metadata.n %d: reproduced in more runs than ran", k, n)
	}
	if r, ok := md["report"]; ok {
		if err := checkReportID(r); err != nil {
			return f, err
		}
	}
	return f, nil
}

// checkReportID: metadata.report names one directory under the cell's
// artifacts/reports, never a path out of it.
func checkReportID(r string) error {
	if r == "" || !filepath.IsLocal(r) || strings.ContainsAny(r, `/\`) || strings.HasPrefix(r, ".") || hasControl(r) {
		return fmt.Errorf("metadata.report %q: want the name of one report directory under %s/%s (a run ID such as 20261201T021700-runc-pipe-hang-runc-1.0.0-rc93-abcd), not a path",
			r, prowjob.ArtifactsName, reportsDir)
	}
	return nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// decodeStrict decodes exactly one JSON object with no field v lacks.
func decodeStrict(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("empty: want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("truncated JSON (%d bytes): %w", len(data), err)
		}
		return fmt.Errorf("not the JSON relapse writes: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("text after the JSON object (at byte %d): want one object", dec.InputOffset())
	}
	return nil
}

// ReadCell reads the cell in dir and checks it: its name is a cell ID,
// neither it nor its files are links, started.json and finished.json parse
// and agree with it, and its report page (when it names one) is a regular
// file inside it. A cell that started and never wrote finished.json is an
// ERROR entry, not a missing one. Every refusal is a *CellError.
func ReadCell(dir string) (Entry, error) {
	id := filepath.Base(dir)
	refuse := func(file string, err error) (Entry, error) {
		return Entry{}, &CellError{Dir: dir, File: file, Err: err}
	}
	if err := CheckCellID(id); err != nil {
		return refuse("", err)
	}
	d, err := openNoFollow(nil, dir, unix.O_DIRECTORY)
	if err != nil {
		return refuse("", err)
	}
	defer d.Close()
	data, err := readSmall(d, prowjob.StartedName)
	if err != nil {
		return refuse(prowjob.StartedName, err)
	}
	st, err := ParseStarted(id, data)
	if err != nil {
		return refuse(prowjob.StartedName, err)
	}
	e := Entry{Cell: id, Dir: dir, Started: st.Timestamp}
	data, err = readSmall(d, prowjob.FinishedName)
	if errors.Is(err, os.ErrNotExist) {
		e.Result, e.Meta = "ERROR", map[string]string{"cell": id, "scenario": st.Metadata["scenario"],
			"failure": "no " + prowjob.FinishedName + ": the cell started and never finished (killed, timed out, or its machine lost)"}
		return e, nil
	}
	if err != nil {
		return refuse(prowjob.FinishedName, err)
	}
	fin, err := ParseFinished(id, data)
	if err != nil {
		return refuse(prowjob.FinishedName, err)
	}
	if fin.Timestamp < st.Timestamp {
		return refuse(prowjob.FinishedName, fmt.Errorf("timestamp %d is before %s's %d: both are written by the machine that ran the cell", fin.Timestamp, prowjob.StartedName, st.Timestamp))
	}
	e.Finished, e.Passed, e.Result, e.Meta = fin.Timestamp, fin.Passed, fin.Result, fin.Metadata
	if e.Meta == nil {
		e.Meta = map[string]string{}
	}
	if r := e.Meta["report"]; r != "" {
		rel := filepath.Join(prowjob.ArtifactsName, reportsDir, r, report.HTMLName)
		ok, at, err := regularInside(d, rel)
		if err != nil {
			return refuse(at, err)
		}
		if ok {
			e.Report = filepath.Join(dir, rel)
		}
	}
	if err := readBisection(d, &e); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// regularInside says whether rel (below the directory d) is a regular
// file reached through directories only: false when a part is missing, an
// error (with the part, at) when a part is a link or not what it should be.
func regularInside(d *os.File, rel string) (ok bool, at string, err error) {
	parts := strings.Split(rel, string(filepath.Separator))
	dir := d
	for i, p := range parts {
		last := i == len(parts)-1
		flags := unix.O_DIRECTORY
		if last {
			flags = 0
		}
		f, err := openNoFollow(dir, p, flags)
		if dir != d {
			dir.Close()
		}
		at = filepath.Join(parts[:i+1]...)
		if errors.Is(err, os.ErrNotExist) {
			return false, "", nil
		}
		if err != nil {
			return false, at, err
		}
		if last {
			defer f.Close()
			info, err := f.Stat()
			if err != nil {
				return false, at, err
			}
			if !info.Mode().IsRegular() {
				return false, at, fmt.Errorf("a %s, not a regular file", kind(info.Mode()))
			}
			return true, "", nil
		}
		dir = f
	}
	return false, "", nil
}

// errLink is what opening a link without following it gives.
var errLink = errors.New("a symbolic link: a cell's files and directories are read as they are, never through a link")

// openNoFollow opens name (relative to dir, or as it is when dir is nil)
// read-only without following a final link, without blocking on a FIFO.
// flags adds O_DIRECTORY to insist on a directory.
func openNoFollow(dir *os.File, name string, flags int) (*os.File, error) {
	at := unix.AT_FDCWD
	if dir != nil {
		at = int(dir.Fd())
	}
	fd, err := unix.Openat(at, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|flags, 0)
	switch {
	case err == nil:
		return os.NewFile(uintptr(fd), name), nil
	case errors.Is(err, unix.ELOOP):
		return nil, errLink
	case errors.Is(err, unix.ENOTDIR) && flags&unix.O_DIRECTORY != 0:
		// O_DIRECTORY|O_NOFOLLOW on a link gives ENOTDIR too.
		var st unix.Stat_t
		if unix.Fstatat(at, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return nil, errLink
		}
		return nil, errors.New("not a directory")
	case errors.Is(err, unix.ENOENT):
		return nil, os.ErrNotExist
	}
	return nil, err
}

// readSmall reads the regular file name in d, up to maxJSON bytes.
func readSmall(d *os.File, name string) ([]byte, error) {
	f, err := openNoFollow(d, name, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("missing: %w", err)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("a %s, not a regular file", kind(info.Mode()))
	}
	data, err := io.ReadAll(io.LimitReader(f, maxJSON+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxJSON {
		return nil, fmt.Errorf("more than %d bytes: relapse writes a few KiB", maxJSON)
	}
	return data, nil
}

// kind names a file mode's type for a message.
func kind(m os.FileMode) string {
	switch {
	case m&os.ModeSymlink != 0:
		return "symbolic link"
	case m.IsDir():
		return "directory"
	case m&os.ModeNamedPipe != 0:
		return "FIFO"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "special file"
}
