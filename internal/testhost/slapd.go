package testhost

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/require"
)

// The directory StartSlapd serves.
const (
	SlapdBaseDN = "dc=example,dc=org"
	SlapdRootDN = "cn=admin,dc=example,dc=org"
	SlapdRootPW = "root-secret"
	// SlapdReaderDN is a service account that may read ou=people, which
	// anonymous clients and users other than the entry's own may not.
	SlapdReaderDN = "cn=reader,dc=example,dc=org"
	SlapdReaderPW = "reader-pw"
	// SlapdPeople and SlapdGroups hold the seeded users and groups.
	SlapdPeople = "ou=people,dc=example,dc=org"
	SlapdGroups = "ou=groups,dc=example,dc=org"
)

// Slapd is a running OpenLDAP slapd with its own configuration, database and
// certificate under a temp dir.
type Slapd struct {
	*Process
	// URL is ldap://127.0.0.1:PORT (StartTLS offered there); LDAPSURL is
	// ldaps://127.0.0.1:PORT.
	URL, LDAPSURL string
	// CAFile is the PEM certificate the server presents (self-signed, for
	// 127.0.0.1 and localhost): the CA file a client must trust.
	CAFile string
	// Dir holds slapd.conf, the database directory and the certificate.
	Dir string

	args []string
	// owner is the test that started slapd: a restarted slapd lives as
	// long as the first one would have.
	owner testing.TB
}

// StartSlapd runs `slapd -f slapd.conf -d stats` in the foreground on two
// free loopback ports (plain with StartTLS, and LDAPS), waits until the root
// DN can bind, and seeds:
//
//	ou=people: uid=alice (password "alice-pw"), uid=bob ("bob-pw"),
//	           inetOrgPerson + posixAccount, passwords stored as {SSHA}
//	ou=groups: cn=admins  groupOfNames        member alice
//	           cn=staff   groupOfNames        member alice, bob
//	           cn=auditors groupOfUniqueNames uniqueMember bob
//	           cn=devs    posixGroup          memberUid bob
//
// plus the service account SlapdReaderDN. The configuration allows
// unauthenticated binds (a DN with an empty password, `allow bind_anon_dn`)
// as some directories do, so that tests can prove a client refuses empty
// passwords itself. Access: passwords are readable by nobody; entries under
// ou=people by the reader and by the entry itself (anonymous clients may
// only bind); everything else by everyone. cn=Monitor is on, so tests can
// read the server's connection counter (Connections). slapd is stopped by
// pid in t.Cleanup.
func StartSlapd(t testing.TB) *Slapd {
	t.Helper()
	bin := NeedBinary(t, "slapd")
	for attempt := 0; ; attempt++ {
		s := &Slapd{Dir: t.TempDir(), owner: t}
		s.CAFile = writeSelfSigned(t, s.Dir)
		plain, tlsPort := FreePort(t), FreePort(t)
		s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", plain)
		s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d", tlsPort)
		conf := filepath.Join(s.Dir, "slapd.conf")
		require.NoError(t, os.MkdirAll(filepath.Join(s.Dir, "data"), 0o700))
		require.NoError(t, os.WriteFile(conf, []byte(slapdConf(s.Dir)), 0o600))
		// -d: stay in the foreground (so the pid is slapd's) and log
		// connections and operations to stderr, shown if the test fails.
		s.args = []string{bin, "-f", conf, "-h", s.URL + "/ " + s.LDAPSURL + "/", "-d", "stats"}
		if s.start(t) {
			s.seed(t)
			return s
		}
		if attempt == 2 {
			t.Fatalf("slapd could not bind its ports after 3 tries")
		}
	}
}

func slapdConf(dir string) string {
	return strings.NewReplacer("@DIR@", dir, "@SUFFIX@", SlapdBaseDN, "@ROOTDN@", SlapdRootDN, "@ROOTPW@", SlapdRootPW, "@PEOPLE@", SlapdPeople, "@READER@", SlapdReaderDN).Replace(`
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile @DIR@/slapd.pid
argsfile @DIR@/slapd.args
allow bind_anon_dn
TLSCACertificateFile @DIR@/cert.pem
TLSCertificateFile @DIR@/cert.pem
TLSCertificateKeyFile @DIR@/key.pem

database mdb
maxsize 16777216
suffix "@SUFFIX@"
rootdn "@ROOTDN@"
rootpw "@ROOTPW@"
directory @DIR@/data
access to attrs=userPassword by anonymous auth by * none
access to dn.subtree="@PEOPLE@" by dn.exact="@READER@" read by self read by anonymous auth by * none
access to * by * read

database monitor
`)
}

// start runs slapd and waits for it; false means a port was taken.
func (s *Slapd) start(t testing.TB) bool {
	t.Helper()
	s.Process = Start(s.owner, Spec{Args: s.args, Dir: s.Dir})
	return waitReady(t, s.Process, "slapd", s.ready, 20*time.Second,
		func() bool { return strings.Contains(s.LogText(), "Address already in use") })
}

// ready dials and binds as the root DN.
func (s *Slapd) ready() error {
	c, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetTimeout(time.Second)
	return c.Bind(SlapdRootDN, SlapdRootPW)
}

// Stop stops slapd (SIGTERM) and waits for it to exit.
func (s *Slapd) Stop() { s.Process.Stop(syscall.SIGTERM) }

// Restart stops slapd and starts it again on the same ports with the same
// database: clients' open connections break, new ones work. The new slapd
// is stopped when the test that called StartSlapd ends (t may be a subtest
// of it).
func (s *Slapd) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if !s.start(t) {
		t.Fatalf("slapd could not bind its ports again after a restart")
	}
}

// Admin returns a connection bound as the root DN, closed in t.Cleanup.
func (s *Slapd) Admin(t testing.TB) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	c.SetTimeout(5 * time.Second)
	require.NoError(t, c.Bind(SlapdRootDN, SlapdRootPW))
	return c
}

// Add adds an entry as the root DN.
func (s *Slapd) Add(t testing.TB, dn string, attrs map[string][]string) {
	t.Helper()
	addEntry(t, s.Admin(t), dn, attrs)
}

func addEntry(t testing.TB, c *ldap.Conn, dn string, attrs map[string][]string) {
	t.Helper()
	req := ldap.NewAddRequest(dn, nil)
	for k, v := range attrs {
		req.Attribute(k, v)
	}
	require.NoError(t, c.Add(req), "adding %s", dn)
}

// AddUser adds uid=USER under ou=people with password pw (stored {SSHA})
// and returns its DN. The uid is escaped for the DN as RFC 4514 says.
func (s *Slapd) AddUser(t testing.TB, uid, pw string) string {
	t.Helper()
	dn := "uid=" + ldap.EscapeDN(uid) + "," + SlapdPeople
	s.Add(t, dn, userAttrs(uid, pw, 20000))
	return dn
}

func userAttrs(uid, pw string, n int) map[string][]string {
	return map[string][]string{
		"objectClass":   {"inetOrgPerson", "posixAccount"},
		"uid":           {uid},
		"cn":            {uid},
		"sn":            {uid},
		"uidNumber":     {fmt.Sprint(n)},
		"gidNumber":     {fmt.Sprint(n)},
		"homeDirectory": {"/home/" + uid},
		"userPassword":  {SSHA(pw)},
	}
}

// Connections is slapd's count of connections accepted since it started,
// read from cn=Monitor over c, a connection the caller keeps open (Admin),
// so that reading the counter does not move it.
func (s *Slapd) Connections(t testing.TB, c *ldap.Conn) int {
	t.Helper()
	res, err := c.Search(ldap.NewSearchRequest("cn=Total,cn=Connections,cn=Monitor",
		ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"monitorCounter"}, nil))
	require.NoError(t, err)
	require.Len(t, res.Entries, 1)
	var n int
	_, err = fmt.Sscan(res.Entries[0].GetAttributeValue("monitorCounter"), &n)
	require.NoError(t, err)
	return n
}

func (s *Slapd) seed(t testing.TB) {
	t.Helper()
	c := s.Admin(t)
	addEntry(t, c, SlapdBaseDN, map[string][]string{"objectClass": {"dcObject", "organization"}, "dc": {"example"}, "o": {"Example"}})
	addEntry(t, c, SlapdReaderDN, map[string][]string{"objectClass": {"organizationalRole", "simpleSecurityObject"}, "cn": {"reader"}, "userPassword": {SSHA(SlapdReaderPW)}})
	addEntry(t, c, SlapdPeople, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"people"}})
	addEntry(t, c, SlapdGroups, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"groups"}})
	alice, bob := "uid=alice,"+SlapdPeople, "uid=bob,"+SlapdPeople
	addEntry(t, c, alice, userAttrs("alice", "alice-pw", 10001))
	addEntry(t, c, bob, userAttrs("bob", "bob-pw", 10002))
	addEntry(t, c, "cn=admins,"+SlapdGroups, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"admins"}, "member": {alice}})
	addEntry(t, c, "cn=staff,"+SlapdGroups, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"staff"}, "member": {alice, bob}})
	addEntry(t, c, "cn=auditors,"+SlapdGroups, map[string][]string{"objectClass": {"groupOfUniqueNames"}, "cn": {"auditors"}, "uniqueMember": {bob}})
	addEntry(t, c, "cn=devs,"+SlapdGroups, map[string][]string{"objectClass": {"posixGroup"}, "cn": {"devs"}, "gidNumber": {"20001"}, "memberUid": {"bob"}})
}

// SSHA is an OpenLDAP {SSHA} userPassword value for pw (salted SHA-1, which
// slapd checks on bind without any module).
func SSHA(pw string) string {
	salt := make([]byte, 8)
	_, _ = rand.Read(salt)
	sum := sha1.Sum(append([]byte(pw), salt...))
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(sum[:], salt...))
}

// writeSelfSigned writes cert.pem and key.pem (ECDSA P-256, for 127.0.0.1
// and localhost) into dir and returns the certificate's path.
func writeSelfSigned(t testing.TB, dir string) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "anyhost test slapd"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	cert := filepath.Join(dir, "cert.pem")
	require.NoError(t, os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	return cert
}
