/*
 * fuzz_tlsrpt.c - libFuzzer target: tlsrpt_parse_mem on the input with
 * small caps, and each report written out as JSON.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "lib.h"
#include "tlsrpt.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tlsrpt_limits	 lim;
	struct tlsrpt_report	 r;
	struct buf		 out;
	char			 err[256];

	tlsrpt_limits_default(&lim);
	lim.max_size = 1 << 20;
	lim.max_depth = 16;
	lim.max_policies = 8;
	lim.max_details = 8;
	lim.max_strings = 8;
	lim.max_string = 256;
	if (tlsrpt_parse_mem(data, size, &lim, &r, err, sizeof(err)) == 0) {
		buf_init(&out, 1 << 20);
		if (tlsrpt_json(&out, "fuzz", &r) == 0 &&
		    (out.len == 0 || out.data[out.len - 1] != '\n'))
			abort();
		buf_free(&out);
		if (r.successful < 0 || r.failure < 0)
			abort();
	} else if (err[0] == '\0')
		abort();	/* every error has a reason */
	tlsrpt_report_free(&r);
	return 0;
}
