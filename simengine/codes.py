"""Integer codes shared by the compiler and the kernels (a leaf module: imports nothing).

Distribution kinds index the per-prospect samplers; natural parameters per kind are stored in a
row of four floats (see ``simengine.scenario.distributions``). Purposes key the counter-based
random numbers: changing one of them changes every result, so they are fixed forever.
"""

# --- distribution kinds: natural parameters (p0, p1, p2, p3) -------------------------------------
FIXED = 0  # (value, -, -, -)
UNIFORM = 1  # (low, high, -, -)
TRIANGULAR = 2  # (low, mode, high, -)
PERT = 3  # (low, high - low, alpha, beta)          scaled beta
NORMAL = 4  # (mean, sd, Phi(a), Phi(b))            truncated to [a, b] by inversion
LOGNORMAL = 5  # (mu, sigma, -, -)
GAMMA = 6  # (shape, scale, -, -)
WEIBULL = 7  # (shape, scale, -, -)
EXPONENTIAL = 8  # (mean, -, -, -)
BETA = 9  # (alpha, beta, -, -)
EMPIRICAL = 10  # (offset, count, -, -) into the empirical tables

N_NATURAL = 4

# --- random-number purposes (one byte each) ------------------------------------------------------
P_ARRIVALS = 1  # Poisson count of a (campaign, day)
P_SEGMENT = 2  # segment of a prospect
P_VALUE = 3  # deal value of a prospect
P_ARRIVAL_TIME = 4  # time of day of an arrival
P_DWELL = 5  # dwell in a stage visit
P_ROUTE = 6  # outcome of a stage visit
P_DELAY = 7  # recycle delay
P_PATIENCE = 8  # patience while waiting for a rep
P_AGE = 9  # age of an initial-pipeline prospect
P_PARAM = 10  # per-draw parameter
P_OCCURS = 11  # whether a risk event happens in a draw
P_RESIDUAL = 12  # residual dwell of an initial-pipeline prospect
P_COUNT = 13  # rounding of an uncertain initial-pipeline count
P_ATTRITION = 14  # time until a rep leaves
P_WARM = 16  # count of a warm-start pipeline entry (keyed by "warm_start:STAGE:CAMPAIGN")
P_DRIFT = 15  # innovations of a drift path: visit = period, attempt 0 = eps, 1 = eta; keyed by
#               derive(draw key, path_key("drift:" + parameter path)), a label no other key uses

# --- clocks of the parameters that move over time (per stage, for routing and for dwell) -------
DRIFT_NONE = 0  # nothing moves: time index 0 (the base values)
DRIFT_COHORT = 1  # the arrival period of the prospect (1 + period; 0 for the open pipeline)
DRIFT_PERIOD = 2  # the calendar period of the exit (routing) or of the visit's start (dwell)

# --- drift models ----------------------------------------------------------------------------
RANDOM_WALK = 0
AR1 = 1
LOCAL_TREND = 2

# --- priority classes of the capacity path ----------------------------------------------------
INBOUND = 0
OUTBOUND = 1

# --- outcome codes of a stage visit ------------------------------------------------------------
WON = -1
LOST = -2
NO_DECISION = -3
RECYCLE = -4

# --- key namespaces and packings -------------------------------------------------------------
HIRED_REP_KEY = 1_000_000  # key label of a pool's rep r: r for the initial reps, this + r for hires
EVENT_KIND_BITS = 3  # capacity path: an event's id is (object << EVENT_KIND_BITS) | kind
EV_ENTER = 1  # a prospect enters a pooled stage (object: its slot)
EV_EXIT = 2  # a pooled visit ends
EV_ABANDON = 3  # a waiting prospect's patience runs out
EV_DAY = 4  # a day starts: capacity may change, its arrivals come (object 0, aux: the day)
