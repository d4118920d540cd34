"""Wire tests of `vortexd --db` (docs/vortexd.md "Database (--db)", docs/handlers.md,
PROTOCOL §13, §14.2): every served table is an observable CrudHandler on
{"key": "crud.T"} with tuples of type "vortexc.T", plus {"key": "crud.tables"}.

Every scenario runs on a temporary SQLite file and, when VX_TEST_PG_URL is set, on
PostgreSQL too (tables named wc<pid>_<n>_<name>, served with --tables, dropped at the
end). Database state is checked through the wire (RETRIEVE) and directly: Python's
sqlite3 module on the file, psql on PostgreSQL.

Run: python3 tests/wire/test_crud.py --vortexd build/vortexd [name-filter...]
"""

import atexit
import datetime as dt
import hashlib
import os
import select
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vxwire  # noqa: E402
from vxwire import (Server, WS, Tuple, TestFailure, check, eq, new_uuid, encode,  # noqa: E402
                    decode, assert_hello, open_stream, metric_values)

PG_URL = os.environ.get("VX_TEST_PG_URL") or None

# ---------------------------------------------------------------------------
# Backends: where the tables live and how the test looks at them directly
# ---------------------------------------------------------------------------

class SQLiteBackend:
    name = "sqlite"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vx_wirecrud_")
        self.path = os.path.join(self.dir, "crud.db")
        self.url = self.path

    def t(self, logical):
        return logical

    def exec(self, *sql):
        con = sqlite3.connect(self.path)
        try:
            for q in sql:
                con.execute(q)
            con.commit()
        finally:
            con.close()

    def query(self, sql, params=()):
        con = sqlite3.connect(self.path)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    def snapshot(self, *tables):
        """Every row of the tables, ordered by id: compared before and after a failed
        request."""
        return [self.query('SELECT * FROM "%s" ORDER BY id' % t) for t in tables]

    def count(self, table):
        return self.query('SELECT count(*) FROM "%s"' % table)[0][0]

    def text_digest(self, table, col, row_id):
        """(length, md5) of one stored text value, read without vortexd."""
        rows = self.query('SELECT "%s" FROM "%s" WHERE id = ?' % (col, table), (row_id,))
        check(len(rows) == 1, "row %r of %s not in the SQLite file" % (row_id, table))
        v = rows[0][0]
        check(isinstance(v, str), "%s.%s of row %r is stored as %r, not text" %
              (table, col, row_id, type(v).__name__))
        return len(v), hashlib.md5(v.encode("utf-8")).hexdigest()

    def table_exists(self, table):
        return bool(self.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                               (table,)))

    def emp_ddl(self, emp, dept, nopk):
        return ['CREATE TABLE "%s" (id INTEGER PRIMARY KEY, name TEXT NOT NULL, '
                'age INTEGER CHECK (age >= 0), salary REAL, active BOOLEAN DEFAULT 1, '
                'photo BLOB, hired TIMESTAMP)' % emp,
                'CREATE TABLE "%s" (id INTEGER PRIMARY KEY, title TEXT NOT NULL UNIQUE '
                "DEFAULT 'untitled')" % dept,
                'CREATE TABLE "%s" (a INTEGER, b TEXT)' % nopk]

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


_pg_tables = []  # every PostgreSQL table created, dropped at exit whatever happens
_pg_seq = [0]


class PGBackend:
    name = "pg"

    def __init__(self):
        self.url = PG_URL
        _pg_seq[0] += 1
        self.prefix = "wc%d_%d_" % (os.getpid(), _pg_seq[0])
        self.created = []

    def t(self, logical):
        return self.prefix + logical

    def psql(self, sql):
        """Output of `sql` (unaligned, tuples only) in one long-lived psql: starting
        psql costs ~0.3 s here, a query on the open session a millisecond."""
        return _psql_session(self.url).run(sql)

    def exec(self, *sql):
        for q in sql:
            if q.upper().startswith("CREATE TABLE"):
                name = q.split('"')[1]
                self.created.append(name)
                _pg_tables.append((self.url, name))
        self.psql("; ".join(sql))

    def snapshot(self, *tables):
        """(count, digest) of every table, in one psql run (each costs ~0.2 s)."""
        q = " UNION ALL ".join(
            "(SELECT %d, count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY id), '')) "
            "FROM \"%s\" t)" % (i, table) for i, table in enumerate(tables))
        return self.psql(q + " ORDER BY 1").split()

    def count(self, table):
        return int(self.psql('SELECT count(*) FROM "%s"' % table))

    def text_digest(self, table, col, row_id):
        out = self.psql('SELECT length("%s"), md5("%s") FROM "%s" WHERE id = %d' %
                        (col, col, table, int(row_id))).strip()
        check(out, "row %r of %s not in PostgreSQL" % (row_id, table))
        n, md5 = out.split("|")
        return int(n), md5

    def table_exists(self, table):
        return self.psql("SELECT count(*) FROM pg_tables WHERE tablename = '%s'" %
                         table).strip() == "1"

    def emp_ddl(self, emp, dept, nopk):
        return ['CREATE TABLE "%s" (id SERIAL PRIMARY KEY, name TEXT NOT NULL, '
                'age INTEGER CHECK (age >= 0), salary DOUBLE PRECISION, '
                'active BOOLEAN DEFAULT true, photo BYTEA, hired TIMESTAMP)' % emp,
                'CREATE TABLE "%s" (id SERIAL PRIMARY KEY, title TEXT NOT NULL UNIQUE '
                "DEFAULT 'untitled')" % dept,
                'CREATE TABLE "%s" (a INTEGER, b TEXT)' % nopk]

    def cleanup(self):
        if self.created:
            self.psql("DROP TABLE IF EXISTS %s" % ", ".join('"%s"' % t for t in self.created))
            for t in self.created:
                if (self.url, t) in _pg_tables:
                    _pg_tables.remove((self.url, t))
            self.created = []


class _Psql:
    END = "__wirecrud_end__"

    def __init__(self, url):
        self.proc = subprocess.Popen(["psql", url, "-X", "-q", "-At"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def run(self, sql):
        self.proc.stdin.write(("%s;\n\\echo %s\n" % (sql, self.END)).encode("utf-8"))
        self.proc.stdin.flush()
        lines = []
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise TestFailure("psql exited; output: %r" % b"".join(lines)[-500:])
            if line.rstrip(b"\n") == self.END.encode():
                break
            lines.append(line)
        out = b"".join(lines).decode("utf-8")
        if out.startswith(("ERROR:", "psql:")) or "\nERROR:" in out:
            raise TestFailure("psql %r failed: %s" % (sql[:200], out[-500:]))
        return out

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(10)


_psql_sessions = {}


def _psql_session(url):
    if url not in _psql_sessions:
        _psql_sessions[url] = _Psql(url)
    return _psql_sessions[url]


@atexit.register
def _drop_leftover_pg_tables():
    for url, t in list(_pg_tables):
        subprocess.run(["psql", url, "-X", "-q", "-c", 'DROP TABLE IF EXISTS "%s"' % t],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for sess in _psql_sessions.values():
        sess.close()


class Schema:
    """The test tables of one scenario: emp (every column kind), dept, nopk."""

    def __init__(self, b):
        self.b = b
        self.emp, self.dept, self.nopk = b.t("emp"), b.t("dept"), b.t("nopk")
        b.exec(*b.emp_ddl(self.emp, self.dept, self.nopk))
        self.K = "crud." + self.emp
        self.TY = "vortexc." + self.emp
        self.DK = "crud." + self.dept
        self.DTY = "vortexc." + self.dept

    def serve(self, *flags, tables=None):
        tables = tables if tables is not None else [self.emp, self.dept]
        return Server("--db", self.b.url, "--tables", ",".join(tables), *flags)

    def emp_tuple(self, id, name, age=None, salary=None, active=True, photo=None, hired=None):
        """A complete emp tuple (every column; partial tuples have their own scenario)."""
        return Tuple(self.TY, id=id, name=name, age=age, salary=salary, active=active,
                     photo=photo, hired=hired)


def scenario(fn):
    """Register fn(backend) as test_<name>_sqlite and (with VX_TEST_PG_URL) _pg."""
    g = globals()
    for cls in (SQLiteBackend, PGBackend):
        def run_one(cls=cls):
            if cls is PGBackend and not PG_URL:
                print("# skip %s on PostgreSQL: VX_TEST_PG_URL is not set" % fn.__name__)
                return
            b = cls()
            try:
                fn(b)
            finally:
                b.cleanup()
        g["test_%s_%s" % (fn.__name__, cls.name)] = run_one
    return fn


# ---------------------------------------------------------------------------
# Clients: the same conversation over WebSocket and HTTP long-poll
# ---------------------------------------------------------------------------

def _timed_out(e):
    return isinstance(e, TestFailure) and "within" in str(e)


class Client:
    """A remote vortex over "ws" or "http". Payloads that are not the reply being
    waited for (pushes) are kept in `inbox`, in arrival order."""

    def __init__(self, s, transport="ws", name="wirecrud", uuid=None):
        self.s, self.transport, self.name = s, transport, name
        self.uuid = uuid or new_uuid()
        self.inbox = []
        self.ws = self.stream = None
        if transport == "ws":
            self.ws = WS(s, uuid=self.uuid, name=name)
            assert_hello(self.ws.next_msg(), s, "WebSocket hello")
        else:
            self._post(b"")

    def _post(self, body):
        """A long-poll POST: the new response stream takes over from the old one,
        whose remaining items are kept (PROTOCOL §9)."""
        new = open_stream(self.s, uuid=self.uuid, name=self.name, body=body)
        old, self.stream = self.stream, new
        if old is not None:
            for item in old.drain_until_end():
                if item:
                    p = decode(item)
                    if not p.is_heartbeat() and not p.is_hello():
                        self.inbox.append(p)
            old.conn.close()
        assert_hello(new.next(), self.s, "long-poll hello")

    def send(self, filt, tuples=()):
        self.send_raw(encode(filt, tuples) + b".")

    def send_raw(self, msg):
        if self.ws:
            self.ws.send_text(msg)
        else:
            self._post(msg)

    def _recv(self, timeout):
        if self.ws:
            return self.ws.next_msg(timeout=timeout)
        return self.stream.next(timeout)

    def next(self, timeout=vxwire.TIMEOUT):
        if self.inbox:
            return self.inbox.pop(0)
        return self._recv(timeout)

    def wait_reply(self, mid, timeout=vxwire.TIMEOUT):
        """The payload whose filt carries PayloadResponse.messageId == mid; anything
        else received meanwhile goes to the inbox."""
        for i, p in enumerate(self.inbox):
            if p.filt.get("PayloadResponse.messageId") == mid:
                return self.inbox.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            p = self._recv(max(0.001, deadline - time.monotonic()))
            if p.filt.get("PayloadResponse.messageId") == mid:
                return p
            self.inbox.append(p)

    def request(self, filt, tuples=(), timeout=vxwire.TIMEOUT):
        """Send filt + a fresh messageId; the reply must carry that filt unchanged
        (PROTOCOL §13, §14.1 rule 1) and no replyFilt."""
        f = dict(filt, **{"PayloadResponse.messageId": new_uuid()})
        self.send(f, tuples)
        r = self.wait_reply(f["PayloadResponse.messageId"], timeout)
        eq(r.filt, f, "reply filt (the request's, messageId included)")
        eq(r.reply_filt, {}, "reply replyFilt")
        return r

    def ok(self, filt, tuples=(), timeout=vxwire.TIMEOUT):
        r = self.request(filt, tuples, timeout)
        check(r.result in (None, True), "request %r failed: %r" % (filt, r.result))
        return r

    def quiet(self, secs=0.0):
        """Nothing (but heartbeats) has arrived, or arrives within secs."""
        if self.inbox:
            raise TestFailure("%s %s got unexpected %r" % (self.transport, self.name,
                                                          self.inbox[0]))
        try:
            p = self._recv(max(secs, 0.01))
        except TestFailure as e:
            if _timed_out(e):
                return
            raise
        raise TestFailure("%s %s got unexpected %r" % (self.transport, self.name, p))

    def close(self):
        if self.ws:
            self.ws.close()
        elif self.stream:
            self.stream.conn.close()


def all_quiet(clients, secs=0.3):
    time.sleep(secs)
    for c in clients:
        c.quiet(0.01)


def remotes(s):
    return metric_values(s.metrics(), "vortexc_remotes")


def wait_remotes(s, pred, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = remotes(s)
        if pred(v):
            return
        if time.monotonic() > deadline:
            raise TestFailure("%s: vortexc_remotes is still %r after %.1f s" % (what, v, timeout))
        time.sleep(0.05)


def emp_fields(t):
    """The fields of a returned row without its id, for comparing with what was sent."""
    return {k: v for k, v in t.fields.items() if k != "id"}


# ---------------------------------------------------------------------------
# --demo, crud.tables, --tables, tables without a primary key
# ---------------------------------------------------------------------------

# The documented column type -> kind mapping (include/vortexc/sql.h), applied to
# the declared types SQLite reports, so crud.tables is checked against the file.
SQLITE_KINDS = {"INTEGER": "int", "TEXT": "str", "REAL": "float", "BOOLEAN": "bool",
                "TIMESTAMP": "datetime", "BLOB": "bytes"}


def check_tables_reply(r, path, names):
    """crud.tables lists exactly `names`, each with its columns as in the file."""
    eq(r.result, None, "crud.tables result")
    eq(sorted(d["table"] for d in r.tuples), sorted(names), "tables listed")
    for d in r.tuples:
        t = d["table"]
        eq((d["key"], d["type"], d["primaryKey"]), ("crud." + t, "vortexc." + t, "id"),
           "crud.tables entry for %s" % t)
        con = sqlite3.connect(path)
        try:
            info = con.execute('PRAGMA table_info("%s")' % t).fetchall()
        finally:
            con.close()
        eq([c["name"] for c in d["columns"]], [row[1] for row in info], "%s columns" % t)
        for c, row in zip(d["columns"], info):
            eq(c["kind"], SQLITE_KINDS[row[2].upper()], "kind of %s.%s" % (t, c["name"]))
            # SQLite reports an INTEGER PRIMARY KEY as nullable; the store knows better.
            eq(c["nullable"], not row[3] and not row[5], "nullable of %s.%s" % (t, c["name"]))
            eq(c["default"] is None, row[4] is None, "default of %s.%s (file: %r)" %
               (t, c["name"], row[4]))


def all_rows(c, key):
    """Every row of a served table, through a subscribe (its reply is a RETRIEVE of
    all rows), unsubscribed again."""
    rows = c.ok({"key": key, "subscribe": True}).tuples
    eq(c.ok({"key": key, "unsubscribe": True}).result, True, "unsubscribe result")
    return rows


def test_demo_creates_tables_and_rows_listed_by_crud_tables_sqlite():
    d = tempfile.mkdtemp(prefix="vx_wirecrud_")
    try:
        path = os.path.join(d, "demo.db")
        demo = ["department", "employee", "project"]
        with Server("--db", path, "--demo") as s:
            c = Client(s)
            check_tables_reply(c.ok({"key": "crud.tables"}), path, demo)
            con = sqlite3.connect(path)
            try:
                for t in demo:
                    names = [r[0] for r in con.execute('SELECT name FROM "%s" ORDER BY id' % t)]
                    check(names, "--demo left %s empty" % t)
                    rows = all_rows(c, "crud." + t)
                    eq([r.fields["name"] for r in rows], names, "rows of %s over the wire" % t)
                    check(all(r.name == "vortexc." + t for r in rows), "tuple types of " + t)
            finally:
                con.close()
            # Change a row; a second --demo start must neither undo it nor add rows.
            dep = c.ok({"key": "crud.department", "id": 1}).tuples[0]
            dep.fields["name"] = "Research and Development"
            eq(c.ok({"key": "crud.department"}, [dep]).tuples, [dep], "renamed department")
            counts = {t: sqlite3.connect(path).execute('SELECT count(*) FROM "%s"' % t)
                      .fetchone()[0] for t in demo}
            c.close()
        with Server("--db", path, "--demo") as s:
            c = Client(s, "http")
            eq(c.ok({"key": "crud.department", "id": 1}).tuples, [dep],
               "department 1 after a second --demo start")
            for t in demo:
                eq(len(all_rows(c, "crud." + t)), counts[t], "rows of %s after restart" % t)
            c.close()
        # A database that already has a table is not touched by --demo.
        mine = os.path.join(d, "mine.db")
        con = sqlite3.connect(mine)
        con.execute("CREATE TABLE mine (id INTEGER PRIMARY KEY, v TEXT)")
        con.execute("INSERT INTO mine (v) VALUES ('kept')")
        con.commit()
        con.close()
        with Server("--db", mine, "--demo") as s:
            c = Client(s)
            check_tables_reply(c.ok({"key": "crud.tables"}), mine, ["mine"])
            eq([r.fields for r in all_rows(c, "crud.mine")], [{"id": 1, "v": "kept"}],
               "rows of mine")
            c.send({"key": "crud.department", "id": 1})
            c.quiet(0.3)  # no such handler: the demo tables were not created
            c.close()
        con = sqlite3.connect(mine)
        eq([r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")],
           ["mine"], "tables in a non-empty database after --demo")
        con.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)


@scenario
def tables_flag_with_unknown_name_stops_vortexd_naming_it(b):
    sc = Schema(b)
    bogus = b.t("no_such_table")
    p = subprocess.run([vxwire.VORTEXD, "--port", "0", "--db", b.url, "--tables",
                        "%s,%s" % (sc.emp, bogus)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20)
    check(p.returncode != 0, "vortexd exited %d with an unknown --tables name" % p.returncode)
    err = p.stderr.decode("utf-8", "replace")
    check(bogus in err, "stderr does not name %r: %r" % (bogus, err[-500:]))
    check(b"listening" not in p.stdout, "vortexd listened before refusing --tables")


@scenario
def table_without_primary_key_is_skipped_with_warning_others_served(b):
    sc = Schema(b)
    with sc.serve(tables=[sc.nopk, sc.emp]) as s:
        c = Client(s)
        r = c.ok({"key": "crud.tables"})
        eq([d["table"] for d in r.tuples], [sc.emp], "served tables")
        eq([(col["name"], col["kind"]) for col in r.tuples[0]["columns"]],
           [("id", "int"), ("name", "str"), ("age", "int"), ("salary", "float"),
            ("active", "bool"), ("photo", "bytes"), ("hired", "datetime")], "emp columns")
        eq([(col["nullable"], col["default"]) for col in r.tuples[0]["columns"]],
           [(False, None), (False, None), (True, None), (True, None), (True, True),
            (True, None), (True, None)], "emp columns' nullable and default")
        err = s.stderr_text()
        check(any(sc.nopk in line and "warn" in line.lower() for line in err.splitlines()),
              "no warning naming %s: %r" % (sc.nopk, err[-1000:]))
        ins = c.ok({"key": sc.K}, [sc.emp_tuple(None, "served")])
        eq(c.ok({"key": sc.K, "id": ins.tuples[0].fields["id"]}).tuples, ins.tuples,
           "the table with a key is served")
        c.send({"key": "crud." + sc.nopk})
        c.quiet(0.3)
        c.close()


# ---------------------------------------------------------------------------
# The decision table (PROTOCOL §14.2) over the wire
# ---------------------------------------------------------------------------

@scenario
def decision_table_create_retrieve_update_delete(b):
    sc = Schema(b)
    with sc.serve() as s:
        c = Client(s)
        # 4. CREATE: one tuple at the column defaults; nothing stored.
        r = c.request({"key": sc.K})
        eq(r.result, None, "CREATE result")
        eq(r.tuples, [Tuple(sc.TY, id=None, name=None, age=None, salary=None, active=True,
                            photo=None, hired=None)], "CREATE tuple")
        eq(c.request({"key": sc.DK}).tuples, [Tuple(sc.DTY, id=None, title="untitled")],
           "CREATE tuple of dept (text default)")
        eq(b.count(sc.emp), 0, "rows after CREATE")

        # 2. UPDATE, inserts: id null and id "" both let the database assign it.
        when = dt.datetime(2021, 3, 1, 9, 0, 0, 123456)
        ada = sc.emp_tuple(None, "Ada", 36, 7200.5, True, b"\x00\xff\x10bin", when)
        bob = sc.emp_tuple("", "Bob", 40, -1.25, False, None, None)
        r = c.request({"key": sc.K}, [ada, bob])
        eq(r.result, True, "UPDATE result")
        eq(len(r.tuples), 2, "UPDATE reply rows")
        ada_id, bob_id = (t.fields["id"] for t in r.tuples)
        check(isinstance(ada_id, int) and isinstance(bob_id, int) and ada_id != bob_id,
              "assigned ids %r %r" % (ada_id, bob_id))
        eq([emp_fields(t) for t in r.tuples], [emp_fields(ada), emp_fields(bob)],
           "stored rows read back, in request order")
        eq(b.count(sc.emp), 2, "rows after the insert")

        # 3. RETRIEVE by id: [row], [] for a missing id.
        r = c.request({"key": sc.K, "id": ada_id})
        eq((r.result, r.tuples), (None, [sc.emp_tuple(ada_id, "Ada", 36, 7200.5, True,
                                                      b"\x00\xff\x10bin", when)]), "RETRIEVE")
        r = c.request({"key": sc.K, "id": 987654})
        eq((r.result, r.tuples), (None, []), "RETRIEVE of a missing id")
        # A JavaScript-style integral float id is the same id.
        eq(c.request({"key": sc.K, "id": float(bob_id)}).tuples[0].fields["name"], "Bob",
           "RETRIEVE with id %r.0" % bob_id)

        # UPDATE, merges: an existing row is updated, an absent id is inserted with it;
        # several tuples in one payload, reply in request order.
        ada2 = sc.emp_tuple(ada_id, "Ada King", 37, 7300.0, True, b"", when)
        cy = sc.emp_tuple(5000, "Cy", None, None, True, None, dt.datetime(1999, 12, 31, 23, 59, 59))
        r = c.request({"key": sc.K}, [cy, ada2])
        eq((r.result, r.tuples), (True, [cy, ada2]), "merge reply")
        eq(c.request({"key": sc.K, "id": 5000}).tuples, [cy], "row inserted by merge")
        eq(c.request({"key": sc.K, "id": ada_id}).tuples, [ada2], "row updated by merge")

        # Two tables in one payload (docs/vortexd.md): both rows stored, one reply.
        dep = Tuple(sc.DTY, id=None, title="Research")
        dee = sc.emp_tuple(None, "Dee", 29)
        r = c.request({"key": sc.K}, [dep, dee])
        eq(r.result, True, "two-table UPDATE result")
        eq([t.name for t in r.tuples], [sc.DTY, sc.TY], "two-table reply types, in order")
        dep_id, dee_id = (t.fields["id"] for t in r.tuples)
        eq(c.request({"key": sc.DK, "id": dep_id}).tuples, [Tuple(sc.DTY, id=dep_id,
                                                                  title="Research")],
           "dept row stored through crud.emp")
        eq(c.request({"key": sc.K, "id": dee_id}).tuples, [r.tuples[1]], "emp row stored")

        # "delete": 1 is not a delete: with an id it is a RETRIEVE.
        r = c.request({"key": sc.K, "delete": 1, "id": bob_id})
        eq((r.result, [t.fields["name"] for t in r.tuples]), (None, ["Bob"]),
           "delete: 1 with an id")
        r = c.request({"key": sc.K, "delete": "true", "id": bob_id})
        eq((r.result, len(r.tuples)), (None, 1), "delete: \"true\" with an id")
        eq(b.count(sc.emp), 4, "rows after the non-deletes")

        # 1. DELETE of several tuples (and an id that does not exist): one reply, true.
        r = c.request({"key": sc.K, "delete": True},
                      [Tuple(sc.TY, id=ada_id), Tuple(sc.TY, id=bob_id), Tuple(sc.TY, id=424242)])
        eq((r.result, r.tuples), (True, []), "DELETE reply")
        for i in (ada_id, bob_id):
            eq(c.request({"key": sc.K, "id": i}).tuples, [], "RETRIEVE of deleted %r" % i)
        # DELETE by the filt id, no tuples.
        eq(c.request({"key": sc.K, "delete": True, "id": 5000}).result, True, "DELETE by id")
        eq(c.request({"key": sc.K, "id": 5000}).tuples, [], "RETRIEVE after DELETE by id")
        # Deleting tuples of two tables in one payload.
        r = c.request({"key": sc.K, "delete": True},
                      [Tuple(sc.DTY, id=dep_id), Tuple(sc.TY, id=dee_id)])
        eq((r.result, r.tuples), (True, []), "two-table DELETE")
        eq((b.count(sc.emp), b.count(sc.dept)), (0, 0), "rows left")
        c.close()


# ---------------------------------------------------------------------------
# Hostile input: one error reply naming the problem, database unchanged
# ---------------------------------------------------------------------------

def expect_one_error(c, filt, tuples, *needles):
    """The request gets exactly one reply, an error whose result names the problem:
    the next reply to the same handler (answered in arrival order) comes right after."""
    r = c.request(filt, tuples)
    check(isinstance(r.result, str) and r.result,
          "%r with %r: result %r, expected an error" % (filt, tuples[:3], r.result))
    eq(r.tuples, [], "error reply tuples")
    for n in needles:
        check(n in r.result, "error %r does not name %r" % (r.result, n))
    check("\n" not in r.result, "error is not one line: %r" % r.result)
    print("#   error: %s" % r.result[:150])
    key = filt["key"]
    c.ok({"key": key, "id": -1})  # a barrier: any second reply would arrive before it
    check(not c.inbox, "more than one reply: %r" % c.inbox)
    return r.result


@scenario
def hostile_input_gets_one_error_naming_it_and_database_unchanged(b):
    sc = Schema(b)
    with sc.serve() as s:
        c = Client(s)
        a, _ = c.ok({"key": sc.K}, [sc.emp_tuple(None, "A", 1), sc.emp_tuple(None, "Z", 2)]).tuples
        a_id = a.fields["id"]
        c.ok({"key": sc.K}, [Tuple(sc.DTY, id=None, title="taken")])

        def wire_state():  # every row of both tables, through the server
            return all_rows(c, sc.K), all_rows(c, sc.DK)

        wire0, direct0 = wire_state(), b.snapshot(sc.emp, sc.dept)
        K, TY = sc.K, sc.TY
        # (filt, tuples, what the error must name, check the database directly on PG too)
        cases = [
            ({"key": K}, [Tuple(TY, id=None, name="x", bogus=1)], ["no column", "'bogus'"], 0),
            ({"key": K}, [Tuple(TY, id=None, name="x", **{"name; DROP TABLE x": 1})],
             ["no column", "name; DROP TABLE x"], 0),
            ({"key": K}, [sc.emp_tuple(None, "x", age="old")], ["age", "expects int", "str"], 0),
            ({"key": K}, [sc.emp_tuple(None, 5)], ["name", "expects str", "int"], 0),
            ({"key": K}, [sc.emp_tuple(None, "x", age=1.5)], ["age", "expects int"], 0),
            ({"key": K}, [sc.emp_tuple(None, "x", active="yes")], ["active", "expects bool"], 0),
            ({"key": K}, [sc.emp_tuple(None, "x", photo="no")], ["photo", "expects bytes"], 0),
            ({"key": K}, [sc.emp_tuple(None, "x", hired="2021-01-01")],
             ["hired", "expects datetime"], 0),
            ({"key": K}, [sc.emp_tuple(None, "x", salary=[1.0])], ["salary"], 0),
            ({"key": K}, [sc.emp_tuple("abc", "x")], ["id", "expects int"], 0),
            ({"key": K}, [sc.emp_tuple(True, "x")], ["id", "expects int"], 0),
            ({"key": K, "id": "abc"}, [], ["filt 'id'", "expects int", "str"], 0),
            ({"key": K, "id": 1.5}, [], ["filt 'id'"], 0),
            ({"key": K, "id": [a_id]}, [], ["filt 'id'"], 0),
            ({"key": K, "id": "'; DROP TABLE %s; --" % sc.emp}, [], ["filt 'id'"], 0),
            ({"key": K, "delete": True}, [], ["delete needs tuples or a filt 'id'"], 0),
            ({"key": K, "delete": True, "id": "abc"}, [], ["id"], 0),
            ({"key": K, "delete": True}, [Tuple(TY, name="no id")], ["has no 'id' to delete"], 0),
            ({"key": K, "delete": True}, [Tuple(TY, id=a_id), Tuple(TY, name="no id")],
             ["tuples[1]", "has no 'id' to delete"], 1),
            ({"key": K}, [Tuple("other.Type", id=None, name="x")],
             ["tuple type 'other.Type' is not handled by '%s'" % K], 0),
            # The type of a table that exists but is not served (no primary key).
            ({"key": K}, [Tuple("vortexc." + sc.nopk, a=1, b="x")],
             ["tuple type 'vortexc.%s' is not handled by '%s'" % (sc.nopk, K)], 0),
            ({"key": K}, [{"name": "x"}], ["tuples[0] is a dict, not a tuple"], 0),
            ({"key": K}, [sc.emp_tuple(None, "ok"), "a string"], ["tuples[1]", "not a tuple"], 1),
            # A batch whose last tuple is bad: nothing of the earlier ones is stored.
            ({"key": K}, [sc.emp_tuple(None, "new"), sc.emp_tuple(a_id, "A changed", 9),
                          Tuple(sc.DTY, id=None, title="d"),
                          sc.emp_tuple(None, "bad", age="nine")], ["age", "expects int"], 1),
            ({"key": K}, [sc.emp_tuple(a_id, "A changed"), Tuple(sc.DTY, id=None, title="d"),
                          sc.emp_tuple(None, None)], ["name"], 1),
            # Refused by the database itself (CHECK, UNIQUE), after earlier tuples were
            # written inside the transaction: rolled back.
            ({"key": K}, [sc.emp_tuple(None, "new"), sc.emp_tuple(a_id, "A changed", 9),
                          Tuple(sc.DTY, id=None, title="d"), sc.emp_tuple(None, "neg", -5)],
             ["'%s'" % sc.emp], 1),
            ({"key": K}, [sc.emp_tuple(a_id, "A changed", 9), Tuple(sc.DTY, id=None, title="d2"),
                          Tuple(sc.DTY, id=None, title="taken")], ["'%s'" % sc.dept], 1),
            # A DELETE batch whose last tuple is bad deletes nothing.
            ({"key": K, "delete": True}, [Tuple(TY, id=a_id), Tuple(TY, id="zz")], ["id"], 1),
        ]
        for filt, tuples, needles, direct in cases:
            expect_one_error(c, filt, tuples, *needles)
            what = "after %r %r" % (filt, tuples[:4])
            eq(wire_state(), wire0, "rows over the wire " + what)
            if direct or b.name == "sqlite":
                eq(b.snapshot(sc.emp, sc.dept), direct0, "database " + what)
        eq(c.ok({"key": K, "id": a_id}).tuples, [a], "row A over the wire after the errors")
        # A subscribe with a bad id is refused too, and records nothing.
        expect_one_error(c, {"key": K, "subscribe": True, "id": "abc"}, [], "id")
        eq(b.snapshot(sc.emp, sc.dept), direct0, "database after all the errors")

        # SQL metacharacters and a 1 MB string are values like any other: stored verbatim.
        evil = ["'; DROP TABLE %s; --" % sc.emp, "Robert'); DROP TABLE %s;--" % sc.dept,
                "\" ? $1 %s %% _ \\ \\' ` ; -- /* */ \x01 \t \u00e9 \u20ac \U0001F600" % "%"]
        big = ("0123456789abcdef\u00e9\u20ac\U0001F600'\";--" * 60000)[:1 << 20]
        sent = [sc.emp_tuple(None, v) for v in evil + [big]]
        r = c.ok({"key": K}, sent, timeout=30)
        eq([t.fields["name"] for t in r.tuples], evil + [big], "names as read back")
        for t, v in zip(r.tuples, evil + [big]):
            got = c.ok({"key": K, "id": t.fields["id"]}, timeout=30).tuples
            check(len(got) == 1 and got[0].fields["name"] == v,
                  "RETRIEVE of %r does not give it back verbatim" % v[:60])
            eq(b.text_digest(sc.emp, "name", t.fields["id"]),
               (len(v), hashlib.md5(v.encode("utf-8")).hexdigest()),
               "stored text of %r" % v[:60])
        check(b.table_exists(sc.emp) and b.table_exists(sc.dept), "a table was dropped")
        eq(b.count(sc.emp), 2 + len(sent), "rows after the verbatim inserts")
        c.quiet(0.2)  # the refused subscribe recorded nothing: no pushes of those inserts
        c.close()


# ---------------------------------------------------------------------------
# Observation: subscribers over WebSocket and long-poll
# ---------------------------------------------------------------------------

def expect_push(c, key, tuples, delete=False, what=""):
    p = c.next()
    want = {"key": key, "subscribe": True}
    if delete:
        want["delete"] = True
    eq(p.filt, want, "%s push filt to %s %s" % (what, c.transport, c.name))
    eq((p.result, p.tuples), (None, tuples), "%s push to %s %s" % (what, c.transport, c.name))


@scenario
def observation_pushes_reach_every_subscriber_once_and_no_one_else(b):
    sc = Schema(b)
    K = sc.K
    with sc.serve("--http-session-timeout", "1") as s:
        w = Client(s, "ws", "writer")  # writes, never subscribes
        rows = w.ok({"key": K}, [sc.emp_tuple(None, "r%d" % i, i) for i in range(3)]).tuples
        ids = [t.fields["id"] for t in rows]
        subs = [Client(s, "ws", "subA"), Client(s, "ws", "subB"), Client(s, "http", "subC")]
        idle = [Client(s, "ws", "idleWS"), Client(s, "http", "idleHTTP")]
        for c in subs:
            r = c.request({"key": K, "subscribe": True})
            eq((r.result, r.tuples), (None, rows), "subscribe reply of %s" % c.name)
        one = Client(s, "http", "oneRow")  # watches row 1 only
        eq(one.request({"key": K, "subscribe": True, "id": ids[1]}).tuples, [rows[1]],
           "id-scoped subscribe reply")
        # A subscriber to another table sees none of emp's changes.
        other = Client(s, "ws", "deptSub")
        eq(other.request({"key": sc.DK, "subscribe": True}).tuples, [], "dept subscribe reply")

        # UPDATE of row 0: every subscriber of all rows, not the id-scoped one.
        r0 = sc.emp_tuple(ids[0], "r0 changed", 100)
        rep = w.ok({"key": K}, [r0])
        for c in subs:
            expect_push(c, K, rep.tuples, what="UPDATE")
        # UPDATE of rows 1 and 2 plus an insert in one payload: all rows, in request
        # order; the id-scoped subscriber gets its row alone.
        new = sc.emp_tuple(None, "r3", 3)
        rep = w.ok({"key": K}, [sc.emp_tuple(ids[2], "r2 changed", 102), new,
                                sc.emp_tuple(ids[1], "r1 changed", 101)])
        for c in subs:
            expect_push(c, K, rep.tuples, what="3-row UPDATE")
        expect_push(one, K, [rep.tuples[2]], what="3-row UPDATE")
        ids.append(rep.tuples[1].fields["id"])
        row2 = rep.tuples[0]
        # A failed UPDATE (last tuple bad) pushes nothing.
        bad = w.request({"key": K}, [sc.emp_tuple(ids[1], "never"), sc.emp_tuple(None, 1)])
        check(isinstance(bad.result, str), "bad UPDATE result %r" % bad.result)
        # DELETE of row 2 and a missing id: pushed with "delete": true, the row as it was.
        rep = w.ok({"key": K, "delete": True}, [Tuple(sc.TY, id=ids[2]), Tuple(sc.TY, id=999999)])
        for c in subs:
            expect_push(c, K, [row2], delete=True, what="DELETE")
        # A long-poll subscriber that is detached (no POST open) but not yet forgotten
        # keeps its subscription: the push waits for its next POST (PROTOCOL §9).
        away = Client(s, "http", "away")
        away.ok({"key": K, "subscribe": True})
        away.close()
        rep = w.ok({"key": K}, [sc.emp_tuple(ids[0], "r0 while away", 150)])
        for c in subs:
            expect_push(c, K, rep.tuples, what="UPDATE while one is detached")
        away = Client(s, "http", "away", uuid=away.uuid)
        expect_push(away, K, rep.tuples, what="held for the detached subscriber")
        idle.append(away)
        away.ok({"key": K, "unsubscribe": True})
        # A DELETE that finds nothing pushes nothing.
        w.ok({"key": K, "delete": True, "id": 999998})
        all_quiet(subs + idle + [one, other, w], 0.3)

        # Unsubscribe (subB), a closed WebSocket (subA), an expired long-poll session
        # (subC): none of them gets anything any more.
        subA, subB, subC = subs
        eq(subB.request({"key": K, "unsubscribe": True}).result, True, "unsubscribe result")
        n0 = remotes(s)
        subA.ws.send_close(1000)
        subA.ws.expect_close(1000)
        subA.close()
        subC.close()
        # The WebSocket is forgotten at once, the long-poll remote only when its
        # session (1 s) has expired.
        wait_remotes(s, lambda v: v <= n0 - 1, 3, "closed WebSocket subscriber")
        wait_remotes(s, lambda v: v == n0 - 2, 4, "long-poll subscriber after its session timeout")
        # subC comes back with the same uuid: a new remote vortex, not subscribed.
        subC = Client(s, "http", "subC", uuid=subC.uuid)
        # The writer subscribes too: it gets its reply first, then the push.
        w.ok({"key": K, "subscribe": True})
        rep = w.ok({"key": K}, [sc.emp_tuple(ids[1], "r1 again", 201)])
        expect_push(w, K, rep.tuples, what="writer's own")
        expect_push(one, K, rep.tuples, what="id-scoped")
        # A late subscriber still works: the server forgot the others cleanly.
        late = Client(s, "ws", "late")
        eq(len(late.ok({"key": K, "subscribe": True}).tuples), 3, "late subscribe rows")
        rep = w.ok({"key": K}, [sc.emp_tuple(ids[0], "r0 again", 200)])
        for c in (w, late):
            expect_push(c, K, rep.tuples, what="after the departures")
        all_quiet([subB, subC, one, other] + idle, 0.3)
        check(metric_values(s.metrics(), "vortexc_session_expiries") >= 1,
              "session expiry not counted")
        for c in [w, subB, subC, one, other, late] + idle:
            c.close()


# ---------------------------------------------------------------------------
# Two writers on one row; a big update does not stop the server
# ---------------------------------------------------------------------------

@scenario
def concurrent_updates_of_one_row_are_consistent_and_pushed_in_commit_order(b):
    sc = Schema(b)
    K, n = sc.K, 20
    with sc.serve() as s:
        seed = Client(s)
        row_id = seed.ok({"key": K}, [sc.emp_tuple(None, "seed", 0)]).tuples[0].fields["id"]
        watcher = Client(s, "ws", "watcher")
        watcher.ok({"key": K, "subscribe": True, "id": row_id})
        writers = {"A": Client(s, "ws", "A"), "B": Client(s, "ws", "B")}
        mids = {w: [] for w in writers}
        sent = {}
        for i in range(n):  # interleaved, pipelined: nothing waits for a reply
            for w, base in (("A", 1000), ("B", 2000)):
                t = sc.emp_tuple(row_id, w, base + i, float(i), i % 2 == 0)
                mid = new_uuid()
                mids[w].append(mid)
                sent[mid] = t
                writers[w].send({"key": K, "PayloadResponse.messageId": mid}, [t])
        for w, c in writers.items():
            for mid in mids[w]:  # each writer's replies, in its own order
                r = c.wait_reply(mid, timeout=20)
                eq((r.result, r.tuples), (True, [sent[mid]]),
                   "reply to %s's update %d" % (w, mids[w].index(mid)))
            check(not c.inbox, "writer %s got extra payloads: %r" % (w, c.inbox[:2]))
        pushes = [watcher.next(timeout=10) for _ in range(2 * n)]
        for p in pushes:
            eq(p.filt, {"key": K, "subscribe": True}, "push filt")
        ages = [p.tuples[0].fields["age"] for p in pushes]
        eq(sorted(ages), sorted(t.fields["age"] for t in sent.values()),
           "every committed update pushed once")
        for base in (1000, 2000):
            mine = [a for a in ages if base <= a < base + n]
            eq(mine, sorted(mine), "pushes of one writer out of its commit order")
        final = seed.ok({"key": K, "id": row_id}).tuples
        eq(final, pushes[-1].tuples, "stored row vs the last push (commit order)")
        by_age = {t.fields["age"]: t for t in sent.values()}
        eq(final, [by_age[ages[-1]]], "stored row vs the last committed reply")
        watcher.quiet(0.2)
        for c in [seed, watcher] + list(writers.values()):
            c.close()


@scenario
def partial_tuple_updates_only_the_fields_it_carries(b):
    """A browser may send only the edited fields: the rest of the row stays as stored
    (merge writes the columns the untyped wire tuple carries), and a new id is inserted
    with database defaults for the missing columns."""
    sc = Schema(b)
    with sc.serve() as s:
        c = Client(s)
        when = dt.datetime(2022, 5, 6, 7, 8, 9, 10)
        full = sc.emp_tuple(None, "Ada", 36, 7200.5, False, b"\x01\x02", when)
        ada_id = c.ok({"key": sc.K}, [full]).tuples[0].fields["id"]
        r = c.ok({"key": sc.K}, [Tuple(sc.TY, id=ada_id, salary=8000.0)])
        want = sc.emp_tuple(ada_id, "Ada", 36, 8000.0, False, b"\x01\x02", when)
        eq(r.tuples, [want], "reply of a partial merge is the whole stored row")
        eq(c.request({"key": sc.K, "id": ada_id}).tuples, [want], "other columns kept")
        # Setting a field to null is a change, not an omission.
        r = c.ok({"key": sc.K}, [Tuple(sc.TY, id=ada_id, age=None)])
        eq(r.tuples[0].fields["age"], None, "explicit null written")
        eq(r.tuples[0].fields["name"], "Ada", "name kept")
        # A partial tuple with a new id is inserted; omitted columns get their defaults.
        r = c.ok({"key": sc.K}, [Tuple(sc.TY, id=7000, name="Cy")])
        eq(r.tuples, [sc.emp_tuple(7000, "Cy", None, None, True, None, None)], "partial insert")
        # A partial tuple missing a NOT NULL column of a new row is refused, nothing stored.
        before = b.count(sc.emp)
        expect_one_error(c, {"key": sc.K}, [Tuple(sc.TY, id=7001, age=3)], "name")
        eq(b.count(sc.emp), before, "rows after the refused partial insert")


@scenario
def big_update_does_not_stop_other_clients(b):
    sc = Schema(b)
    K, n = sc.K, 2000
    with sc.serve() as s:
        big, other = Client(s, "ws", "big"), Client(s, "ws", "other")
        when = dt.datetime(2024, 1, 2, 3, 4, 5)
        tuples = [sc.emp_tuple(None, "bulk %d %s" % (i, "x" * 40), i, i * 1.5, i % 3 == 0,
                               b"\x01" * 16, when) for i in range(n)]
        mid = new_uuid()
        msg = encode({"key": K, "PayloadResponse.messageId": mid}, tuples) + b"."
        big.send_raw(msg)
        t0 = time.monotonic()
        echoes, rtts = 0, []
        sock = big.ws.conn.sock
        while True:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable or big.ws.conn.pending():
                break
            t1 = time.monotonic()
            other.ok({"key": "vortexd.echo", "n": echoes})
            rtts.append(time.monotonic() - t1)
            readable, _, _ = select.select([sock], [], [], 0)
            if readable or big.ws.conn.pending():
                break  # the big reply may have come before this echo completed
            echoes += 1
            check(time.monotonic() - t0 < 30, "the 2,000-row update took over 30 s")
        r = big.wait_reply(mid, timeout=30)
        took = time.monotonic() - t0
        eq(r.result, True, "big UPDATE result")
        eq(len(r.tuples), n, "big UPDATE rows")
        eq(len({t.fields["id"] for t in r.tuples}), n, "distinct ids")
        eq([emp_fields(t) for t in r.tuples[:3]], [emp_fields(t) for t in tuples[:3]],
           "first rows read back")
        eq(b.count(sc.emp), n, "rows stored")
        print("# %s: %d-row update %.3f s; %d echo round trips during it, max %.1f ms" %
              (b.name, n, took, echoes, 1000 * max(rtts or [0])))
        check(echoes >= 1, "no echo round trip completed during a %.3f s update" % took)
        big.close()
        other.close()


if __name__ == "__main__":
    vxwire.run(globals())
