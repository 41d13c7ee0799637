/*
 * simulation.h - a policy simulation over the database: each domain's
 * published policy under the caller's overrides, every record group of
 * the period (db/simulate.c) through the arithmetic of policy/simulate.c,
 * folded into per-domain totals and the sources that would lose mail.
 * What `dmarcd simulate` prints and the summary's verdict are made of.
 */
#ifndef DMARCD_SIMULATION_H
#define DMARCD_SIMULATION_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "httpd.h"
#include "senders.h"
#include "simulate.h"

#define SIM_CLASSES	3	/* approved, forwarded, unknown (senders.h) */

/* Overrides of the published policy; NULL / -1: not given.  by_day: the
 * reports of the days the period overlaps, from the rollup
 * (db_simulate_days), as the dashboard counts them; else the reports as
 * `dmarcd export` chooses them, from record. */
struct sim_opts {
	const char	*p, *sp, *np, *adkim, *aspf, *testing;
	int		 pct;
	bool		 by_day;
};

struct sim_source {
	char		*ip, *service;
	char		*rule;		/* the rule approving it, or NULL */
	const char	*why;		/* of most of its failing messages */
	enum sender_class cls;		/* of most of its messages */
	uint64_t	 messages, would_fail, why_msgs;
	uint64_t	 fail[SIM_NDISP];
	uint64_t	 cls_messages[SIM_CLASSES];
};

struct sim_domain {
	char			*name;
	char			*pub[6];	/* p sp np adkim aspf testing */
	int			 pub_pct;	/* -1: not published */
	struct sim_policy	 pol;		/* simulated */
	uint64_t		 messages, pass, pass_strict_dkim,
				 pass_strict_spf;
	uint64_t		 fail[SIM_NDISP];	/* by requested p/sp */
	uint64_t		 would_quarantine, would_reject;
	/* by the class of each record (policy/senders.h) */
	uint64_t		 cls_messages[SIM_CLASSES];
	uint64_t		 cls_fail[SIM_CLASSES][SIM_NDISP];
	uint64_t		 cls_would_fail[SIM_CLASSES];
	const struct sender_rules *rules;	/* the domain's, or NULL */
	struct sim_source	*src;		/* would lose mail: approved
						 * first, then most first */
	size_t			 nsrc, srccap;
};

struct sim_rules {
	char			*domain;
	struct sender_rules	*rs;
};

struct sim_result {
	struct sim_domain	*dom;
	size_t			 ndom, domcap;
	struct sim_rules	*rules;	/* every domain's approved senders */
	size_t			 nrules;
};

/*
 * Simulates the reports f selects.  adjust, if not NULL, may change each
 * domain's policy once it is resolved from its published one and o (the
 * summary asks for each domain's next step).  Returns 0, or DB_ETEMP /
 * DB_EPERM with err; *r_out is then NULL.
 */
int	simulation_run(struct db *db, const struct db_export_filter *f,
	    const struct sim_opts *o,
	    void (*adjust)(void *, struct sim_domain *), void *arg,
	    struct sim_result **r_out, char *err, size_t errlen);
void	simulation_free(struct sim_result **r);

/* The class of a group of records (policy/senders.h) under rules (NULL:
 * none); *rule_r as sender_classify gives it. */
enum sender_class simulation_class(const struct sender_rules *rules,
	    const struct db_sim_row *r, const char **rule_r);

/* The dashboard's /api/simulate (httpd_simulate_fn): the domains' JSON
 * objects in an array. */
int	simulation_api(struct db *db, const struct httpd_sim_query *q,
	    struct buf *out, char *err, size_t errlen);

/* Appends d as the JSON object `dmarcd simulate` prints (a public
 * interface, dmarcd(8)), with at most top sources.  0, or -1 at the
 * buffer's cap. */
int	simulation_json(struct buf *b, const struct sim_domain *d,
	    unsigned top);

#endif
