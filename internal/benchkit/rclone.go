package benchkit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Rclone runs `rclone copy` between two paths of one S3 endpoint, configured by
// environment variables only (an on-the-fly :s3: remote; no rclone config file is read
// or written).
type Rclone struct {
	// Bin is the rclone executable. Default "rclone" (looked up in PATH).
	Bin string
	// Endpoint is the S3 endpoint URL, e.g. http://127.0.0.1:9000. Required.
	Endpoint string
	// AccessKey and SecretKey sign the requests. Required.
	AccessKey, SecretKey string
	// Transfers is rclone's --transfers (and --checkers): files copied at once.
	// Default 16.
	Transfers int
	// Args are extra rclone flags, e.g. --s3-upload-cutoff 8M. Default none.
	Args []string
}

// Copy runs `rclone copy :s3:src :s3:dst` (each "bucket" or "bucket/prefix") and returns
// how long it took. rclone's output is in the error when it fails. Both paths are on
// one remote, so rclone would copy server-side (CopyObject): that is disabled
// (--disable Copy), every object is downloaded and uploaded. Objects are written
// with the canned ACL bucket-owner-full-control: rclone's default, private, is refused by
// s3server as by S3 buckets with ACLs disabled (AccessControlListNotSupported).
func (r Rclone) Copy(ctx context.Context, src, dst string) (time.Duration, error) {
	bin := r.Bin
	if bin == "" {
		bin = "rclone"
	}
	transfers := r.Transfers
	if transfers <= 0 {
		transfers = 16
	}
	args := append([]string{"copy", ":s3:" + src, ":s3:" + dst,
		"--transfers", strconv.Itoa(transfers), "--checkers", strconv.Itoa(transfers), "--config", os.DevNull, "--s3-acl", "bucket-owner-full-control", "--disable", "Copy"}, r.Args...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(rcloneEnv(os.Environ()),
		"RCLONE_S3_PROVIDER=Other",
		"RCLONE_S3_ENDPOINT="+r.Endpoint,
		"RCLONE_S3_ACCESS_KEY_ID="+r.AccessKey,
		"RCLONE_S3_SECRET_ACCESS_KEY="+r.SecretKey,
		"RCLONE_S3_REGION=us-east-1",
		"RCLONE_S3_FORCE_PATH_STYLE=true",
		"RCLONE_S3_NO_CHECK_BUCKET=true",
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("rclone copy :s3:%s :s3:%s: %w: %s", src, dst, err, strings.TrimSpace(out.String()))
	}
	return time.Since(start), nil
}

// rcloneEnv is env without what would change where or how rclone connects:
// AWS_CA_BUNDLE (rclone fails to start on a bundle it cannot use for a plain-HTTP
// endpoint) and any RCLONE_* setting of the caller's.
func rcloneEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k == "AWS_CA_BUNDLE" || strings.HasPrefix(k, "RCLONE_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}
