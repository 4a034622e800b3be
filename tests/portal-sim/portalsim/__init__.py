"""p11portal portal simulator: Sectigo SCM + DigiCert ONE IoT Trust Manager over HTTPS.

Faithful to /work/shared/PORTALS.md (section numbers in comments refer to it).
Standard library + python3-cryptography (Debian 38.x) only.
"""
