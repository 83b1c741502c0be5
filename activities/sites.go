package activities

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/backbeat-temporal/backbeat/contract"

	"github.com/backbeat-temporal/backbeat/bbproto/replrule"
)

// Site kinds (Site.Kind).
const (
	// KindS3Server is the project's s3server: replicas go through the privileged
	// /_/backbeat/replica route, keeping the source version id and last-modified time,
	// and the target is checked with /_/backbeat/version.
	KindS3Server = "s3server"
	// KindS3 is any other S3 endpoint (AWS, MinIO, Ceph...): plain PutObject, multipart
	// upload, DeleteObject and PutObjectTagging; the source version id is kept in the
	// user metadata MetaSourceVersionID.
	KindS3 = "s3"
)

// Defaults of Site.
const (
	// DefaultRegion is the signing region of a site that names none.
	DefaultRegion = "us-east-1"
	// DefaultMultipartThreshold is the object size from which data goes in parts
	// (64 MiB).
	DefaultMultipartThreshold = 64 << 20
	// DefaultPartSize is the part size of objects that were not multipart on the source
	// (16 MiB). Multipart source objects keep their own part sizes, so that the replica
	// gets the source's ETag.
	DefaultPartSize = 16 << 20
	// DefaultPartConcurrency is Site.PartConcurrency's default: the parts of one object
	// copied at once.
	DefaultPartConcurrency = 4
	// MinPartSize is S3's smallest part (every part but the last): 5 MiB.
	MinPartSize = 5 << 20
	// MaxParts is S3's largest part count.
	MaxParts = 10000
	// DefaultSourceSite is the name of the site made by DefaultSites.
	DefaultSourceSite = "source"
)

// Site is one replication target: an S3 endpoint and the credentials to write there.
// The entry's Replication.Site (the replication rule's StorageClass, as in Backbeat) names
// the site; entries without one go to Sites.Default.
type Site struct {
	// Name is what replication rules put in their StorageClass. Required, unique.
	Name string `json:"name"`
	// Endpoint is the base URL, e.g. "http://127.0.0.1:8000". Required for kind
	// "s3server"; empty for kind "s3" means AWS's endpoint for Region.
	Endpoint string `json:"endpoint,omitempty"`
	// Region signs the requests. Default DefaultRegion.
	Region string `json:"region,omitempty"`
	// AccessKey and SecretKey are static credentials. On an s3server target they must be
	// the account marked "replication" in its accounts file.
	AccessKey string `json:"accessKey,omitempty"`
	SecretKey string `json:"secretKey,omitempty"`
	// Profile is an AWS shared-config profile (AWS_CONFIG_FILE,
	// AWS_SHARED_CREDENTIALS_FILE) used when AccessKey is empty.
	Profile string `json:"profile,omitempty"`
	// CAFile is a PEM bundle of the CAs that may sign the endpoint's HTTPS certificate.
	// Default "": the system's roots.
	CAFile string `json:"caFile,omitempty"`
	// Kind is KindS3Server (default) or KindS3.
	Kind string `json:"kind,omitempty"`
	// PathStyle addresses buckets as http://endpoint/bucket (kind "s3"). Default true
	// when Endpoint is set, false for AWS (no Endpoint). s3server is always path-style.
	PathStyle *bool `json:"pathStyle,omitempty"`
	// MultipartThreshold is the size from which objects go in parts. Default
	// DefaultMultipartThreshold.
	MultipartThreshold int64 `json:"multipartThreshold,omitempty"`
	// PartSize is the part size for objects that were single-part on the source.
	// Default DefaultPartSize; at least MinPartSize; raised as needed to stay within
	// MaxParts.
	PartSize int64 `json:"partSize,omitempty"`
	// PartConcurrency is how many parts of one object are copied at once (each a ranged
	// GET of the source streamed to an upload-part request). Default
	// DefaultPartConcurrency; 1 copies the parts one after another.
	PartConcurrency int `json:"partConcurrency,omitempty"`
}

// withDefaults returns s with its zero fields set.
func (s Site) withDefaults() Site {
	if s.Region == "" {
		s.Region = DefaultRegion
	}
	if s.Kind == "" {
		s.Kind = KindS3Server
	}
	if s.PathStyle == nil {
		ps := s.Endpoint != "" || s.Kind == KindS3Server
		s.PathStyle = &ps
	}
	if s.MultipartThreshold <= 0 {
		s.MultipartThreshold = DefaultMultipartThreshold
	}
	if s.PartSize <= 0 {
		s.PartSize = DefaultPartSize
	}
	if s.PartConcurrency <= 0 {
		s.PartConcurrency = DefaultPartConcurrency
	}
	return s
}

// validate checks a site with defaults applied.
func (s Site) validate() error {
	if s.Name == "" {
		return errors.New("a site has no name")
	}
	switch s.Kind {
	case KindS3Server, KindS3:
	default:
		return fmt.Errorf("site %q: kind must be %q or %q, not %q", s.Name, KindS3Server, KindS3, s.Kind)
	}
	if s.Endpoint == "" && s.Kind == KindS3Server {
		return fmt.Errorf("site %q: an s3server site needs an endpoint", s.Name)
	}
	if s.Endpoint != "" {
		u, err := url.Parse(s.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("site %q: endpoint %q is not an http(s) URL", s.Name, s.Endpoint)
		}
	}
	if (s.AccessKey == "") != (s.SecretKey == "") {
		return fmt.Errorf("site %q: accessKey and secretKey go together", s.Name)
	}
	if s.AccessKey == "" && s.Profile == "" {
		return fmt.Errorf("site %q has no credentials: set accessKey and secretKey, or profile", s.Name)
	}
	if s.PartSize < MinPartSize {
		return fmt.Errorf("site %q: partSize %d is below S3's minimum part size %d", s.Name, s.PartSize, MinPartSize)
	}
	return nil
}

// where names the site in messages: its name and endpoint.
func (s Site) where() string {
	ep := s.Endpoint
	if ep == "" {
		ep = "AWS S3 (" + s.Region + ")"
	}
	return fmt.Sprintf("site %q at %s", s.Name, ep)
}

// Sites is the set of replication targets, as read from a sites file:
//
//	{"sites":[{"name":"dr","endpoint":"https://dr.example:8000","region":"us-east-1",
//	           "accessKey":"...","secretKey":"...","kind":"s3server","caFile":"/etc/backbeat/dr-ca.pem"},
//	          {"name":"aws","profile":"backup","kind":"s3","pathStyle":false,
//	           "multipartThreshold":67108864,"partSize":16777216,"partConcurrency":4}],
//	 "default":"dr"}
type Sites struct {
	// Sites lists the targets.
	Sites []Site `json:"sites"`
	// Default is the site of entries whose rule names none (or names a standard S3
	// storage class such as STANDARD that is not a site's name). Default: the only site
	// when there is one.
	Default string `json:"default,omitempty"`
}

// LoadSites reads and validates a sites file.
func LoadSites(path string) (*Sites, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read sites file: %w", err)
	}
	var s Sites
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("sites file %s: %w", path, err)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("sites file %s: %w", path, err)
	}
	return &s, nil
}

// DefaultSites is the configuration without a sites file: one s3server site named
// DefaultSourceSite, the source endpoint with the replication credentials.
func DefaultSites(source Site) *Sites {
	source.Name = DefaultSourceSite
	source.Kind = KindS3Server
	return &Sites{Sites: []Site{source}, Default: DefaultSourceSite}
}

// Validate applies the defaults to every site and checks them.
func (s *Sites) Validate() error {
	if len(s.Sites) == 0 {
		return errors.New("no sites")
	}
	seen := map[string]bool{}
	for i := range s.Sites {
		s.Sites[i] = s.Sites[i].withDefaults()
		if err := s.Sites[i].validate(); err != nil {
			return err
		}
		if seen[s.Sites[i].Name] {
			return fmt.Errorf("site %q is listed twice", s.Sites[i].Name)
		}
		seen[s.Sites[i].Name] = true
	}
	if s.Default == "" && len(s.Sites) == 1 {
		s.Default = s.Sites[0].Name
	}
	if s.Default != "" && !seen[s.Default] {
		return fmt.Errorf("default site %q is not listed", s.Default)
	}
	return nil
}

// standardStorageClasses are S3 storage classes a rule may name without meaning a site.
var standardStorageClasses = map[string]bool{
	"STANDARD": true, "REDUCED_REDUNDANCY": true, "STANDARD_IA": true, "ONEZONE_IA": true,
	"INTELLIGENT_TIERING": true, "GLACIER": true, "DEEP_ARCHIVE": true, "GLACIER_IR": true,
	"OUTPOSTS": true, "EXPRESS_ONEZONE": true,
}

// Lookup returns the site named name: "" or a standard S3 storage class that is no
// site's name gives the default site. Errors are *Error of kind contract.KindInvalidConfig.
func (s *Sites) Lookup(name string) (Site, error) {
	for _, st := range s.Sites {
		if st.Name == name {
			return st, nil
		}
	}
	if strings.Contains(name, ",") {
		return Site{}, newError(contract.KindInvalidConfig, fmt.Sprintf("the replication rule names several sites (%q): one site per rule is supported; split the rule", name), nil)
	}
	if name == "" || standardStorageClasses[name] {
		if s.Default == "" {
			return Site{}, newError(contract.KindInvalidConfig, "the replication rule names no site (StorageClass) and the sites file has no \"default\": set one", nil)
		}
		return s.Lookup(s.Default)
	}
	names := make([]string, len(s.Sites))
	for i, st := range s.Sites {
		names[i] = st.Name
	}
	return Site{}, newError(contract.KindInvalidConfig, fmt.Sprintf("unknown replication site %q (the rule's StorageClass): known sites are %s; add it to the sites file or fix the rule", name, strings.Join(names, ", ")), nil)
}

// BucketFromARN returns the bucket of a destination bucket ARN "arn:aws:s3:::name"
// (replrule.ParseBucketARN).
// Errors are *Error of kind contract.KindInvalidConfig.
func BucketFromARN(arn string) (string, error) {
	name, err := replrule.ParseBucketARN(arn)
	if err != nil {
		return "", newError(contract.KindInvalidConfig, fmt.Sprintf("the replication rule's destination %v: fix the rule", err), nil)
	}
	return name, nil
}
