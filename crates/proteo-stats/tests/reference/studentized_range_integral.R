# The studentized range upper tail P(Q > q; k, df) as the defining double integral, by integrate() with pnorm/dnorm.
# An independent reference where R's ptukey (a fixed Gauss-Legendre scheme) is off: up to 1e-3 for df <= 10.
range_upper <- function(w, k) {
  f <- function(z) {
    a <- pnorm(z, lower.tail = FALSE)
    r <- pnorm(z + w, lower.tail = FALSE) / a
    ifelse(a > 0, k * dnorm(z) * a^(k - 1) * -expm1((k - 1) * log1p(-r)), 0)
  }
  integrate(f, -w / 2 - 12, 12, rel.tol = 1e-13, abs.tol = 0, subdivisions = 2000)$value
}
studentized_upper <- function(q, k, df) {
  f <- function(s) sapply(s, function(si) 2 * df * si * dchisq(df * si^2, df) * range_upper(q * si, k))
  integrate(f, 0, Inf, rel.tol = 1e-12, abs.tol = 0, subdivisions = 2000)$value
}
