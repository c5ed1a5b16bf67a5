from django.http import JsonResponse


def home(request):
    return JsonResponse({
        'site': 'shop',
        'framework': 'django',
        'host': request.get_host(),
        'secure': request.is_secure(),
        'client': request.META.get('HTTP_X_FORWARDED_FOR'),
    })


def product(request, slug):
    return JsonResponse({'product': slug})
