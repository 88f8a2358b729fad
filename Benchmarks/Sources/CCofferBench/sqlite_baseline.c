// The raw durable-write baseline: what one fsync'd SQLite commit costs on this disk, with nothing else around it.
// This is the benchmark's own baseline, not product code (CofferStore is the product's only sqlite3 importer).
#include "CCofferBench.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *cb_sqlite_version(void) { return sqlite3_libversion(); }

static void remove_database(const char *path) {
    char companion[4096];
    unlink(path);
    snprintf(companion, sizeof(companion), "%s-wal", path);
    unlink(companion);
    snprintf(companion, sizeof(companion), "%s-shm", path);
    unlink(companion);
}

int cb_sqlite_insert(const char *path, size_t blob_bytes, size_t warmup, size_t iterations, uint64_t *samples_ns) {
    remove_database(path);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return -EIO;
    }
    int result = 0;
    sqlite3_stmt *insert = NULL;
    uint8_t *blob = malloc(blob_bytes ? blob_bytes : 1);
    const char *setup =
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=FULL;"
        "CREATE TABLE rows (id INTEGER PRIMARY KEY, version_id TEXT NOT NULL, value BLOB NOT NULL);";
    if (!blob || sqlite3_exec(db, setup, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO rows (version_id, value) VALUES (?, ?)", -1, &insert, NULL) !=
            SQLITE_OK) {
        result = -EIO;
        goto done;
    }
    uint32_t state = 0x9e3779b9u;
    for (size_t i = 0; i < blob_bytes; i++) {
        state ^= state << 13, state ^= state >> 17, state ^= state << 5;
        blob[i] = (uint8_t)state;
    }
    // Steady state, as in a daemon that has been running: the WAL file already has its size and commits overwrite
    // it from the start after a checkpoint. A fresh WAL instead grows with every commit, and on ext4 an fsync that
    // extends a file also commits the inode's new size (a journal write): several times slower, and not what a
    // long-running store pays. So: one large transaction (8 MiB of WAL), a checkpoint that restarts the WAL, then
    // the measured single-row commits.
    if (sqlite3_exec(db, "CREATE TABLE prefill (value BLOB NOT NULL); BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        result = -EIO;
        goto done;
    }
    sqlite3_stmt *fill = NULL;
    if (sqlite3_prepare_v2(db, "INSERT INTO prefill (value) VALUES (zeroblob(4000))", -1, &fill, NULL) != SQLITE_OK) {
        result = -EIO;
        goto done;
    }
    for (int i = 0; i < 2048 && result == 0; i++) {
        if (sqlite3_step(fill) != SQLITE_DONE) result = -EIO;
        sqlite3_reset(fill);
    }
    sqlite3_finalize(fill);
    if (result != 0 || sqlite3_exec(db, "COMMIT; PRAGMA wal_checkpoint(RESTART);", NULL, NULL, NULL) != SQLITE_OK) {
        result = -EIO;
        goto done;
    }
    for (size_t i = 0; i < warmup + iterations; i++) {
        char version_id[40];
        snprintf(version_id, sizeof(version_id), "00000000-0000-4000-8000-%012zu", i);
        blob[0] = (uint8_t)i, blob[1] = (uint8_t)(i >> 8);
        uint64_t t0 = cb_now_ns();
        sqlite3_bind_text(insert, 1, version_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(insert, 2, blob, (int)blob_bytes, SQLITE_TRANSIENT);
        int rc = sqlite3_step(insert);
        sqlite3_reset(insert);
        uint64_t t1 = cb_now_ns();
        if (rc != SQLITE_DONE) {
            result = -EIO;
            break;
        }
        if (i >= warmup) samples_ns[i - warmup] = t1 - t0;
    }
done:
    sqlite3_finalize(insert);
    sqlite3_close(db);
    free(blob);
    remove_database(path);
    return result;
}
