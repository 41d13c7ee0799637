/*
 * pool.c - one read-only database connection per worker thread.  Read-only
 * is the session default (default_transaction_read_only), so no API query
 * can write even if one were written wrongly.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "httpd.h"

/* No JIT: the API's queries run for milliseconds, and compiling one cost
 * 20-40 ms of the sources page at 10M records (measured). */
#define POOL_SESSION "SET default_transaction_read_only = on; " \
	"SET statement_timeout = '" HTTPD_STATEMENT_TIMEOUT "'; " \
	"SET jit = off; " \
	"SET application_name = 'dmarcd serve'"

static int
pool_connect(struct httpd_pool *p, struct db **db_r, char *err,
    size_t errlen)
{
	if (db_open(p->dbc, false, db_r, err, errlen) != 0)
		return -1;
	if (db_exec(*db_r, POOL_SESSION, err, errlen) != 0) {
		db_close(db_r);
		return -1;
	}
	return 0;
}

int
httpd_pool_open(struct httpd_pool *p, const struct db_config *dbc,
    char *err, size_t errlen)
{
	size_t	i;

	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->dbc = dbc;
	for (i = 0; i < nitems(p->conns); i++)
		if (pool_connect(p, &p->conns[i], err, errlen) != 0) {
			httpd_pool_close(p);
			return -1;
		}
	return 0;
}

void
httpd_pool_close(struct httpd_pool *p)
{
	size_t	i;

	if (p->dbc == NULL)
		return;
	for (i = 0; i < nitems(p->conns); i++)
		db_close(&p->conns[i]);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	p->dbc = NULL;
}

struct db *
httpd_pool_get(struct httpd_pool *p, char *err, size_t errlen)
{
	struct db	*db = NULL;
	size_t		 i;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		for (i = 0; i < nitems(p->conns); i++)
			if (!p->busy[i])
				break;
		if (i < nitems(p->conns))
			break;
		pthread_cond_wait(&p->cond, &p->lock);
	}
	p->busy[i] = true;
	db = p->conns[i];
	pthread_mutex_unlock(&p->lock);

	if (db == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		/* lost (server restarted): connect again */
		db_close(&db);
		if (pool_connect(p, &db, err, errlen) != 0)
			db = NULL;
		pthread_mutex_lock(&p->lock);
		p->conns[i] = db;
		if (db == NULL) {
			p->busy[i] = false;
			pthread_cond_signal(&p->cond);
		}
		pthread_mutex_unlock(&p->lock);
	}
	return db;
}

void
httpd_pool_put(struct httpd_pool *p, struct db *db)
{
	size_t	i;

	pthread_mutex_lock(&p->lock);
	for (i = 0; i < nitems(p->conns); i++)
		if (p->conns[i] == db)
			p->busy[i] = false;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}
