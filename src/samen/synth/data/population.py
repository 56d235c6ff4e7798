"""Age and sex structure of the Dutch population, and the household parameters.

Meant to follow CBS StatLine 7461BEV (Bevolking; geslacht, leeftijd en burgerlijke staat, 1 januari),
1 January 2024, in thousands per five-year age group. Only the total is verified (17,942,942; the
table sums to 17,947 thousand); the groups are not (docs/synth.md, Sources). Household shares follow
CBS StatLine 37975 / 71486ned (particuliere huishoudens naar samenstelling), 2024.
"""

from __future__ import annotations

AGE_GROUP_YEARS = 5
OLDEST_AGE = 104  # the open group 95+ is spread over 95..104

# (men, women) in thousands, for ages 0-4, 5-9, ..., 90-94, 95+
CBS_2024_THOUSANDS: tuple[tuple[int, int], ...] = (
    (443, 421), (463, 441), (497, 473), (541, 517), (585, 566),
    (601, 587), (588, 574), (556, 550), (543, 540), (528, 528),
    (623, 622), (648, 645), (598, 601), (522, 534), (466, 493),
    (372, 418), (211, 266), (101, 157), (33, 70), (6, 19),
)

ADULT_AGE = 18
# Share of young adults (18-24) still living with their parents (CBS: about two in three at 18-24).
YOUNG_AT_HOME = {18: 0.9, 19: 0.85, 20: 0.75, 21: 0.65, 22: 0.55, 23: 0.45, 24: 0.35}
# Share of adults living with a partner, by age band (CBS household statistics, rounded).
PARTNERED = ((25, 0.38), (30, 0.68), (40, 0.8), (65, 0.8), (75, 0.7), (85, 0.48), (200, 0.2))
SAME_SEX_COUPLES = 0.02
HOUSEHOLD_BLOCK = 64  # people per household-forming block (see people.py)
