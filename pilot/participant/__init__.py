"""The pilot users' side: their own interactions, ratings, problem reports, general feedback,
data export and leaving the pilot."""
