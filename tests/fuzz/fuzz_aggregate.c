/*
 * fuzz_aggregate.c - libFuzzer target for the aggregate report parser.
 * Every field the handler can see is read, so the sanitizers notice a
 * dangling or unterminated string; small limits reach the caps quickly.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "aggregate.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static volatile size_t	sink;

static void
touch(const char *s)
{
	if (s != NULL)
		sink += strlen(s);
}

static int
on_begin(void *ctx, const struct agg_report *r, const char **error_r)
{
	size_t	i;

	(void)ctx;
	(void)error_r;
	touch(r->version);
	touch(r->org_name);
	touch(r->org_email);
	touch(r->extra_contact_info);
	touch(r->report_id);
	for (i = 0; i < r->n_errors; i++)
		touch(r->errors[i]);
	touch(r->generator);
	touch(r->domain);
	touch(r->adkim);
	touch(r->aspf);
	touch(r->p);
	touch(r->sp);
	touch(r->np);
	touch(r->fo);
	touch(r->testing);
	touch(r->discovery_method);
	sink += (size_t)r->begin + (size_t)r->end + (size_t)r->pct;
	return 0;
}

static int
on_record(void *ctx, const struct agg_report *r, const struct agg_record *x,
    const char **error_r)
{
	size_t	i;

	(void)ctx;
	(void)r;
	(void)error_r;
	touch(x->source_ip);
	sink += x->count + x->addr[15];
	touch(x->disposition);
	touch(x->dkim);
	touch(x->spf);
	for (i = 0; i < x->n_reasons; i++) {
		touch(x->reasons[i].type);
		touch(x->reasons[i].comment);
	}
	touch(x->header_from);
	touch(x->envelope_from);
	touch(x->envelope_to);
	for (i = 0; i < x->n_dkim; i++) {
		touch(x->auth_dkim[i].domain);
		touch(x->auth_dkim[i].selector);
		touch(x->auth_dkim[i].result);
		touch(x->auth_dkim[i].human_result);
	}
	for (i = 0; i < x->n_spf; i++) {
		touch(x->auth_spf[i].domain);
		touch(x->auth_spf[i].scope);
		touch(x->auth_spf[i].result);
		touch(x->auth_spf[i].human_result);
	}
	return 0;
}

static int
on_end(void *ctx, const struct agg_report *r, const char **error_r)
{
	sink += r->n_records + r->messages;
	return on_begin(ctx, r, error_r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct agg_handler	h = { on_begin, on_record, on_end };
	static int			init;
	struct agg_limits		lim;
	char				err[256];

	if (!init) {
		agg_global_init();
		init = 1;
	}
	agg_limits_default(&lim);
	lim.max_text = 64;
	lim.max_records = 100;
	lim.max_elements = 5000;
	if (agg_parse_mem(data, size, &lim, &h, NULL, err, sizeof(err)) == -1)
		sink += strlen(err);
	return 0;
}
