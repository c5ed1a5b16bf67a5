"""The production Django example of docs/production.md (no database)."""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

INSTALLED_APPS = ['django.contrib.staticfiles']
MIDDLEWARE = [
    'django.middleware.security.SecurityMiddleware',
    'django.middleware.common.CommonMiddleware',
    'django.middleware.csrf.CsrfViewMiddleware',
    'django.middleware.clickjacking.XFrameOptionsMiddleware',
]
ROOT_URLCONF = 'mysite.urls'
WSGI_APPLICATION = 'mysite.wsgi.application'
DATABASES = {}
USE_TZ = True
STATICFILES_DIRS = [BASE_DIR / 'static']

# --- Behind Kirin ---------------------------------------------------------
# The secret comes from .env: Kirin's envFiles reach the services it runs.
SECRET_KEY = os.environ['DJANGO_SECRET_KEY']
DEBUG = False
# The names the site answers to (Kirin answers 421 to any other Host first).
ALLOWED_HOSTS = ['shop.example.com']
# Forms posted from the site's own https:// pages (Django 4+ checks the Origin).
CSRF_TRUSTED_ORIGINS = ['https://shop.example.com']
# `python3 manage.py collectstatic` gathers the files here; Kirin serves them at /static/.
STATIC_URL = '/static/'
STATIC_ROOT = BASE_DIR / 'staticfiles'
# Kirin sets X-Forwarded-Proto to the scheme it saw (a client's own copy is dropped):
# request.is_secure() is then true for HTTPS visitors.
SECURE_PROXY_SSL_HEADER = ('HTTP_X_FORWARDED_PROTO', 'https')
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# Kirin redirects HTTP to HTTPS and sends HSTS; Django need not do it again.
SILENCED_SYSTEM_CHECKS = ['security.W004', 'security.W008']
