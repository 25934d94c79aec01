package dist

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/internal/atomicfile"
	"github.com/magepack/magepack/tasks/internal/fixture"
)

// holdLockEnv makes the test binary a helper process that holds the lock on
// the named folder until its stdin closes (see TestLockHeldByAnotherProcess).
const holdLockEnv = "MAGEPACK_DIST_TEST_HOLD_LOCK"

func TestMain(m *testing.M) {
	if dir := os.Getenv(holdLockEnv); dir != "" {
		unlock, err := Lock(context.Background(), dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println("locked")
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = unlock()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestWriteFile(t *testing.T) {
	tests := []struct {
		name     string
		existing string // "" = no file before
		data     string
		perm     os.FileMode
	}{
		{name: "new file", data: "hello\n", perm: 0o644},
		{name: "replaces existing", existing: "old content that is longer", data: "new", perm: 0o644},
		{name: "executable mode despite umask", data: "#!/bin/sh\n", perm: 0o755},
		{name: "private mode", existing: "x", data: "secret", perm: 0o600},
		{name: "empty data", existing: "x", data: "", perm: 0o644},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out")
			if tc.existing != "" {
				require.NoError(t, os.WriteFile(path, []byte(tc.existing), 0o666))
			}
			require.NoError(t, WriteFile(path, []byte(tc.data), tc.perm))
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, tc.data, string(got))
			fi, err := os.Stat(path)
			require.NoError(t, err)
			if runtime.GOOS != "windows" {
				assert.Equal(t, tc.perm, fi.Mode().Perm())
			}
			assert.Empty(t, fixture.Leftovers(t, dir))
		})
	}
}

func TestWriteFileFailureKeepsOld(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
		write func(path string) error
		check func(t *testing.T, path string)
		err   string
	}{
		{
			name: "write fails halfway",
			setup: func(t *testing.T, path string) {
				require.NoError(t, os.WriteFile(path, []byte("old good"), 0o644))
			},
			write: func(path string) error {
				return writeAtomic(path, 0o644, func(f *os.File) error {
					_, _ = f.WriteString("half of the new")
					return errors.New("disk on fire")
				})
			},
			check: func(t *testing.T, path string) {
				got, err := os.ReadFile(path)
				require.NoError(t, err)
				assert.Equal(t, "old good", string(got))
			},
			err: "disk on fire",
		},
		{
			name: "rename fails because the target is a folder",
			setup: func(t *testing.T, path string) {
				require.NoError(t, os.MkdirAll(filepath.Join(path, "keep"), 0o755))
			},
			write: func(path string) error { return WriteFile(path, []byte("new"), 0o644) },
			check: func(t *testing.T, path string) {
				fi, err := os.Stat(filepath.Join(path, "keep"))
				require.NoError(t, err)
				assert.True(t, fi.IsDir())
			},
			err: "write ",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out")
			tc.setup(t, path)
			err := tc.write(path)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
			assert.Contains(t, err.Error(), path, "error names the file")
			tc.check(t, path)
			assert.Empty(t, fixture.Leftovers(t, dir), "no temporary file left behind")
		})
	}

	t.Run("missing folder", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope", "out")
		err := WriteFile(path, []byte("x"), 0o644)
		require.Error(t, err)
		assert.Contains(t, err.Error(), filepath.Dir(path))
	})
}

func TestCleanTemp(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{atomicfile.TempPrefix + "app-123", atomicfile.TempPrefix + "SHA256SUMS-9", "app_linux_amd64", ".magepack.lock"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, atomicfile.TempPrefix+"dir-1"), 0o755))

	removed, err := CleanTemp(dir)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{
		filepath.Join(dir, atomicfile.TempPrefix+"app-123"),
		filepath.Join(dir, atomicfile.TempPrefix+"SHA256SUMS-9"),
		filepath.Join(dir, atomicfile.TempPrefix+"dir-1"),
	}, removed)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	assert.ElementsMatch(t, []string{"app_linux_amd64", ".magepack.lock"}, left)

	removed, err = CleanTemp(filepath.Join(dir, "missing"))
	require.NoError(t, err, "a missing folder has nothing to clean")
	assert.Empty(t, removed)
}

func busyMessage(dir string) string {
	return fmt.Sprintf("dist %q is in use by another magepack run (lock %s); wait for it to finish", dir, filepath.Join(dir, LockFile))
}

// holdInAnotherProcess starts this test binary as a helper process that
// takes the lock on dir, as another magepack run would, and returns the
// function that kills it (the kernel releases the lock), safe to call more
// than once.
func holdInAnotherProcess(t *testing.T, dir string) (release func()) {
	t.Helper()
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), holdLockEnv+"="+dir)
	helper.Stderr = os.Stderr
	stdin, err := helper.StdinPipe()
	require.NoError(t, err)
	stdout, err := helper.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, helper.Start())
	var once sync.Once
	release = func() {
		// Killed, not asked to let go: a run that dies must not leave
		// the folder locked.
		once.Do(func() { _ = helper.Process.Kill(); _ = stdin.Close(); _ = helper.Wait() })
	}
	t.Cleanup(release)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "locked\n", line)
	return release
}

func TestLockContention(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no flock on windows: Lock is a no-op there")
	}
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "dist")
	release := holdInAnotherProcess(t, dir)
	assert.FileExists(t, filepath.Join(dir, LockFile), "Lock creates the folder and its lock file")

	t.Run("a lock another run holds fails at once", func(t *testing.T) {
		start := time.Now()
		_, err := Lock(ctx, dir)
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrBusy)
		assert.EqualError(t, err, busyMessage(dir))
		assert.Less(t, time.Since(start), time.Second)
	})

	t.Run("waiting gives up at the wait limit", func(t *testing.T) {
		start := time.Now()
		_, err := Lock(ctx, dir, WithWait(150*time.Millisecond))
		require.ErrorIs(t, err, ErrBusy)
		assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	})

	t.Run("waiting gives up when ctx ends", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err := Lock(cctx, dir, WithWait(time.Minute))
		require.ErrorIs(t, err, ErrBusy)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})

	t.Run("waiting gets the lock once it is released", func(t *testing.T) {
		go func() {
			time.Sleep(200 * time.Millisecond)
			release()
		}()
		unlock, err := Lock(ctx, dir, WithWait(10*time.Second))
		require.NoError(t, err)
		require.NoError(t, unlock())
		require.NoError(t, unlock(), "unlock twice is fine")
	})
}

// TestLockInProcess checks that Lock is the one owner of a folder within a
// process too: a second Lock of the same folder (parallel work of one run)
// waits its turn instead of taking the first for another run, a relative
// and an absolute path are one folder, and the wait ends with ctx.
func TestLockInProcess(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "dist")
	unlock, err := Lock(ctx, dir)
	require.NoError(t, err)

	got := make(chan error, 1)
	go func() {
		wd, err := os.Getwd()
		if err != nil {
			got <- err
			return
		}
		rel, err := filepath.Rel(wd, dir)
		if err != nil {
			got <- err
			return
		}
		unlock2, err := Lock(ctx, rel) // no WithWait: it still waits its turn
		if err == nil {
			err = unlock2()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("the second Lock returned while the first was held: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	require.NoError(t, unlock())
	select {
	case err := <-got:
		require.NoError(t, err, "the second Lock gets the folder once the first lets go")
	case <-time.After(10 * time.Second):
		t.Fatal("the second Lock did not get the folder after the first let go")
	}

	unlock, err = Lock(ctx, dir)
	require.NoError(t, err)
	defer unlock()
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = Lock(cctx, dir)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, ErrBusy, "not another run: this one")
	assert.Contains(t, err.Error(), dir)
}

func TestLockHeldByAnotherProcess(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no flock on windows: Lock is a no-op there")
	}
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "dist")
	release := holdInAnotherProcess(t, dir)

	_, err := Lock(ctx, dir)
	require.ErrorIs(t, err, ErrBusy)
	assert.EqualError(t, err, busyMessage(dir))

	// A run that dies (Ctrl-C, OOM kill) must not leave the folder locked.
	release()
	unlock, err := Lock(ctx, dir, WithWait(5*time.Second))
	require.NoError(t, err)
	require.NoError(t, unlock())
}

func TestLockBadFolder(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	file := filepath.Join(base, "dist")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))

	tests := []struct {
		name string
		dir  string
		want string
	}{
		{name: "dist is a file", dir: file, want: fmt.Sprintf("dist %q is a file, not a folder: remove it or choose another folder", file)},
		{name: "a parent is a file", dir: filepath.Join(file, "sub"), want: "a parent of it is a file"},
	}
	if fi, err := os.Stat("/sys"); err == nil && fi.IsDir() && runtime.GOOS == "linux" {
		// sysfs refuses new files even to root, so this case runs in CI too.
		tests = append(tests, struct{ name, dir, want string }{name: "not writable", dir: "/sys", want: `dist "/sys" is not writable`})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			unlock, err := Lock(ctx, tc.dir)
			if err == nil {
				_ = unlock()
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "choose", "the message says how to pick another folder")
			var de *DirError
			assert.ErrorAs(t, err, &de, "typed, so the caller can name its setting")
			assert.NotErrorIs(t, err, ErrBusy)
		})
	}

	t.Run("creates nested missing folders", func(t *testing.T) {
		dir := filepath.Join(base, "a", "b", "dist")
		unlock, err := Lock(ctx, dir)
		require.NoError(t, err)
		assert.DirExists(t, dir)
		require.NoError(t, unlock())
	})
}
